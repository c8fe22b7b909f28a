"""Coupling masks, and the static split of an event into its passive and active parts.

Masks follow distrax's convention: ``True`` marks a *passive* coordinate (copied unchanged and
fed to the conditioner), ``False`` an *active* one (transformed).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def half_mask(dim: int, *, flip: bool = False) -> np.ndarray:
    """``[dim]`` mask with the first ``dim // 2`` coordinates passive (the rest if ``flip``)."""
    mask = np.arange(dim) < dim // 2
    return ~mask if flip else mask


def checkerboard_mask(shape: Sequence[int], *, flip: bool = False) -> np.ndarray:
    """``[H, W, C]`` mask, passive where ``h + w`` is even (odd if ``flip``), in every channel."""
    height, width, channels = shape
    board = (np.arange(height)[:, None] + np.arange(width)[None, :]) % 2 == int(flip)
    return np.broadcast_to(board[:, :, None], (height, width, channels)).copy()


def channel_mask(shape: Sequence[int], *, flip: bool = False) -> np.ndarray:
    """``[H, W, C]`` mask with the first ``C // 2`` channels passive (the rest if ``flip``)."""
    height, width, channels = shape
    return np.broadcast_to(half_mask(channels, flip=flip), (height, width, channels)).copy()


def _index(idx: np.ndarray) -> slice | np.ndarray:
    """A slice when ``idx`` is a contiguous range (cheaper than a gather), else ``idx``."""
    if idx[-1] - idx[0] + 1 == len(idx):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def _take(x: jax.Array, index: slice | np.ndarray) -> jax.Array:
    return x[..., index] if isinstance(index, slice) else jnp.take(x, index, axis=-1)


class Partition:
    """The passive/active split a boolean mask defines, with every index computed in numpy.

    Two layouts, chosen from the mask:

    * **feature split** (the mask depends only on the last axis: half masks of vectors, channel
      masks of images): the conditioner sees ``x[..., passive]`` of shape
      ``event_shape[:-1] + (n_passive,)`` and returns parameters for ``x[..., active]``, of shape
      ``active_shape = event_shape[:-1] + (n_active,)``;
    * **spatial split** (any other mask, e.g. a checkerboard): the conditioner sees the masked
      event ``where(mask, x, 0)`` (RealNVP's ``b * x``), so a convolution keeps its geometry, and
      returns parameters over the whole event; only the ``n_active`` active entries are used, as a
      flat ``active_shape = (n_active,)``.

    Either way the transform itself runs on the active entries only.
    """

    def __init__(self, mask: np.ndarray):
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim == 0 or mask.all() or not mask.any():
            raise ValueError("a coupling mask needs both passive (True) and active (False) entries"
                             f"; got shape {mask.shape} with {int(mask.sum())} passive")
        self.mask = mask
        self.event_shape = mask.shape
        rows = mask.reshape(-1, mask.shape[-1])
        self.feature_split = bool((rows == rows[0]).all())
        line = rows[0] if self.feature_split else mask.ravel()
        # int32 indices: the same constants with and without jax_enable_x64.
        passive = np.flatnonzero(line).astype(np.int32)
        active = np.flatnonzero(~line).astype(np.int32)
        self._passive, self._active = _index(passive), _index(active)
        order = np.concatenate([passive, active])
        if np.array_equal(order, np.arange(len(order))):
            self._merge = "passive_first"
        elif np.array_equal(np.concatenate([active, passive]), np.arange(len(order))):
            self._merge = "active_first"
        else:
            # gather [passive, active] back into place
            self._merge = np.argsort(order).astype(np.int32)
        if self.feature_split:
            self.active_shape = (*mask.shape[:-1], len(active))
            self.params_shape = self.active_shape
        else:
            self.active_shape = (len(active),)
            self.params_shape = mask.shape

    @property
    def event_ndims(self) -> int:
        return len(self.event_shape)

    def _flat(self, x: jax.Array) -> jax.Array:
        """``[..., *event]`` -> the 'line' the indices refer to."""
        if self.feature_split:
            return x
        return x.reshape(*x.shape[: x.ndim - self.event_ndims], -1)

    def conditioner_input(self, x: jax.Array) -> jax.Array:
        """What the conditioner sees (passive features, or the masked event)."""
        if self.feature_split:
            return _take(x, self._passive)
        return jnp.where(self.mask, x, jnp.zeros((), x.dtype))

    def active(self, x: jax.Array) -> jax.Array:
        """``[..., *event] -> [..., *active_shape]``."""
        return _take(self._flat(x), self._active)

    def active_params(self, params: jax.Array, num_params: int) -> jax.Array:
        """Conditioner output ``[..., *params_shape, P]`` -> ``[..., *active_shape, P]``."""
        tail = (*self.params_shape, num_params)
        if params.shape[params.ndim - len(tail):] != tail:
            raise ValueError(f"the conditioner must return [..., {', '.join(map(str, tail))}] "
                             f"parameters for this mask, got shape {params.shape}")
        if self.feature_split:
            return params
        params = params.reshape(*params.shape[: params.ndim - len(tail)], -1, num_params)
        index = self._active
        return params[..., index, :] if isinstance(index, slice) else jnp.take(
            params, index, axis=-2)

    def merge(self, x: jax.Array, y_active: jax.Array) -> jax.Array:
        """``x`` with its active part replaced by ``y_active``."""
        batch_shape = x.shape[: x.ndim - self.event_ndims]
        passive = _take(self._flat(x), self._passive)
        y_active = jnp.broadcast_to(y_active, (*batch_shape, *self.active_shape))
        if isinstance(self._merge, str):
            parts = [passive, y_active] if self._merge == "passive_first" else [y_active, passive]
            y = jnp.concatenate(parts, axis=-1)
        else:
            y = jnp.take(jnp.concatenate([passive, y_active], axis=-1), self._merge, axis=-1)
        return y.reshape(x.shape)

    def sum_active(self, values: jax.Array, batch_shape: tuple[int, ...]) -> jax.Array:
        """Sums ``[..., *active_shape]`` over the active axes, broadcast to ``batch_shape``."""
        axes = tuple(range(-len(self.active_shape), 0))
        return jnp.broadcast_to(jnp.sum(values, axis=axes), batch_shape)


@functools.lru_cache(maxsize=256)
def _partition_cached(shape: tuple[int, ...], packed: bytes) -> Partition:
    bits = np.unpackbits(np.frombuffer(packed, np.uint8), count=int(np.prod(shape)))
    return Partition(bits.astype(bool).reshape(shape))


def partition(mask: np.ndarray) -> Partition:
    """The (cached) :class:`Partition` of a concrete boolean mask."""
    mask = np.asarray(mask, dtype=bool)
    return _partition_cached(mask.shape, np.packbits(mask.ravel()).tobytes())
