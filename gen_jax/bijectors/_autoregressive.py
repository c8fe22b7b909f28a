"""Masked autoregressive flows: MAF (one-pass density) and IAF (one-pass sampling)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import distrax
import jax
import jax.numpy as jnp

from ._transformers import AffineTransformer, Transformer


class MaskedAutoregressive(distrax.Bijector):
    """An autoregressive layer on ``[..., D]`` vectors with a MADE conditioner.

    The forward map (latent ``z`` -> data ``x``, as ``distrax.Transformed`` uses it) is
    elementwise, ``x_i = f(z_i; theta_i)``, with the transformer's parameters ``theta_i`` computed
    by an autoregressive conditioner (e.g. :class:`gen_jax.nn.MADE`) from

    * ``direction='maf'`` (Papamakarios et al. 2017): the data, ``theta_i = c(x_<i)``. The inverse
      (density evaluation) takes one conditioner pass; the forward (sampling) takes D passes.
    * ``direction='iaf'`` (Kingma et al. 2016): the latent, ``theta_i = c(z_<i)``. The forward
      (sampling) takes one pass; the inverse takes D passes.

    The D-pass direction runs in a ``jax.lax.fori_loop``: pass ``k`` fixes the coordinate of
    degree ``k + 1``, so after D passes the result, and its log-det, are exact.
    """

    def __init__(
        self,
        conditioner: Callable[..., jax.Array],
        *,
        transformer: Transformer | None = None,
        direction: Literal["maf", "iaf"] = "maf",
        context: jax.Array | None = None,
    ):
        """Initializes the layer.

        Args:
          conditioner: ``u [..., D] -> params [..., D, transformer.num_params]`` (called as
            ``conditioner(u, context)`` when ``context`` is given), autoregressive in ``u``:
            ``params[..., i, :]`` may depend only on coordinates before ``i`` in its order.
          transformer: elementwise map; :class:`AffineTransformer` (default) or
            :class:`SplineTransformer`.
          direction: ``'maf'`` or ``'iaf'``, see above.
          context: ``[..., context_dim]`` conditioning input.
        """
        if direction not in ("maf", "iaf"):
            raise ValueError(f"direction must be 'maf' or 'iaf', got {direction!r}")
        self._conditioner = conditioner
        self._transformer = AffineTransformer() if transformer is None else transformer
        self._direction = direction
        self._context = context
        super().__init__(event_ndims_in=1)

    @property
    def direction(self) -> str:
        return self._direction

    def _params(self, u: jax.Array) -> jax.Array:
        out = self._conditioner(u) if self._context is None else self._conditioner(
            u, self._context)
        expected = (*u.shape[-1:], self._transformer.num_params)
        if out.shape[-2:] != expected:
            raise ValueError(f"the conditioner must return [..., {expected[0]}, {expected[1]}] "
                             f"parameters, got shape {out.shape}")
        return out

    def _one_pass(self, u: jax.Array, direction: str) -> tuple[jax.Array, jax.Array]:
        """Transforms ``u`` with parameters computed from ``u`` itself."""
        out, log_det = getattr(self._transformer, direction)(u, self._params(u))
        return out, jnp.sum(log_det, axis=-1)

    def _sequential(self, v: jax.Array, direction: str) -> tuple[jax.Array, jax.Array]:
        """Solves ``out = transform(v; params(out))`` coordinate by coordinate, in D passes."""
        transform = getattr(self._transformer, direction)

        def body(_, carry):
            out, _ = carry
            return transform(v, self._params(out))

        init = transform(v, self._params(jnp.zeros_like(v)))
        out, log_det = jax.lax.fori_loop(1, v.shape[-1], body, init)
        return out, jnp.sum(log_det, axis=-1)

    def forward_and_log_det(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Computes ``y = f(x)`` (latent -> data) and ``log|det J_f(x)|``."""
        self._check_forward_input_shape(x)
        if self._direction == "iaf":
            return self._one_pass(x, "forward")
        return self._sequential(x, "forward")

    def inverse_and_log_det(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Computes ``x = f^{-1}(y)`` (data -> latent) and ``log|det J_{f^{-1}}(y)|``."""
        self._check_inverse_input_shape(y)
        if self._direction == "maf":
            return self._one_pass(y, "inverse")
        return self._sequential(y, "inverse")
