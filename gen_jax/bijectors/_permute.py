"""A fixed permutation of the last axis (features of a vector, channels of an image)."""

from __future__ import annotations

import distrax
import jax
import jax.numpy as jnp
import numpy as np


class Permute(distrax.Bijector):
    """``y = x[..., permutation]``; volume-preserving (log-det 0).

    The permutation may be a numpy array (a compile-time constant) or a jax array (e.g. one row
    of a stack of permutations inside :class:`Scan`).
    """

    def __init__(self, permutation: np.ndarray | jax.Array, *, event_ndims: int = 1):
        """Initializes the permutation.

        Args:
          permutation: ``[n]`` integer permutation of ``range(n)``, ``n = x.shape[-1]``.
          event_ndims: event dimensions (1 for vectors, 3 for ``[H, W, C]`` images, whose
            channels are permuted).
        """
        if event_ndims < 1:
            raise ValueError(f"Permute acts on the last axis: event_ndims >= 1, got {event_ndims}")
        if isinstance(permutation, np.ndarray | list | tuple):
            permutation = np.asarray(permutation, np.int32)
            if not np.array_equal(np.sort(permutation), np.arange(len(permutation))):
                raise ValueError(f"not a permutation: {permutation}")
            self._inverse_permutation = np.argsort(permutation).astype(np.int32)
        else:
            self._inverse_permutation = jnp.argsort(permutation)
        self._permutation = permutation
        super().__init__(event_ndims_in=event_ndims, is_constant_jacobian=True)

    @classmethod
    def reverse(cls, size: int, *, event_ndims: int = 1) -> Permute:
        """Reverses the last axis of length ``size``."""
        return cls(np.arange(size)[::-1].copy(), event_ndims=event_ndims)

    @classmethod
    def random(cls, key: jax.Array, size: int, *, event_ndims: int = 1) -> Permute:
        """A uniformly random permutation of ``size`` elements drawn from ``key``."""
        return cls(jax.random.permutation(key, size), event_ndims=event_ndims)

    @property
    def permutation(self) -> np.ndarray | jax.Array:
        return self._permutation

    def _zeros(self, x: jax.Array) -> jax.Array:
        return jnp.zeros(x.shape[: x.ndim - self.event_ndims_in], x.dtype)

    def forward_and_log_det(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        self._check_forward_input_shape(x)
        return jnp.take(x, self._permutation, axis=-1), self._zeros(x)

    def inverse_and_log_det(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        self._check_inverse_input_shape(y)
        return jnp.take(y, self._inverse_permutation, axis=-1), self._zeros(y)
