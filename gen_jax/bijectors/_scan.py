"""A stack of identical layers run by ``jax.lax.scan``: compile time independent of depth.

Like flowjax's ``Scan`` bijection: the layers' parameters are stacked on a leading axis and one
traced layer is applied per step, so a 32-layer flow compiles like a 1-layer one::

    params = stacked_init(lambda k: net.init(k, h), key, num_layers)   # leaves [L, ...]
    make = lambda p: AffineCoupling(mask, lambda h: net.apply(p, h))
    flow = Scan(make, params)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import distrax
import jax
import jax.numpy as jnp

PyTree = Any


def stacked_init(init: Callable[[jax.Array], PyTree], key: jax.Array, num_layers: int) -> PyTree:
    """``init`` for each of ``num_layers`` keys, leaves stacked on a new leading axis."""
    return jax.vmap(init)(jax.random.split(key, num_layers))


class Scan(distrax.Bijector):
    """``layer(params[L-1]) o ... o layer(params[0])``, applied with ``jax.lax.scan``.

    The forward applies layer 0 first (so ``Scan(make, p)`` equals
    ``distrax.Chain([make(p[L-1]), ..., make(p[0])])``); the inverse runs the scan in reverse.
    Anything that differs between layers (alternating masks, permutations) must live inside the
    stacked parameters, or be built into ``make_layer`` as a fixed block (e.g. a
    ``distrax.Chain`` of a coupling and a :class:`Permute`) so that every step is the same.
    """

    def __init__(
        self,
        make_layer: Callable[[PyTree], distrax.Bijector],
        params: PyTree,
        *,
        unroll: int = 1,
    ):
        """Initializes the stack.

        Args:
          make_layer: builds one layer from its (unstacked) parameters; its forward must keep
            the event shape (``event_ndims_in == event_ndims_out``, same shape out as in).
          params: pytree whose leaves all have the same leading size L (the number of layers).
          unroll: passed to ``jax.lax.scan`` (more unrolling: longer compile, maybe faster steps).
        """
        leaves = jax.tree.leaves(params)
        if not leaves:
            raise ValueError("Scan needs stacked parameters (a pytree with array leaves)")
        sizes = {leaf.shape[0] if leaf.ndim else None for leaf in leaves}
        if len(sizes) != 1 or None in sizes:
            raise ValueError(f"every parameter leaf needs the same leading size, got {sizes}")
        self._num_layers = sizes.pop()
        self._make_layer = make_layer
        self._params = params
        self._unroll = unroll
        probe = make_layer(jax.tree.map(lambda leaf: leaf[0], params))
        if probe.event_ndims_in != probe.event_ndims_out:
            raise ValueError("Scan layers must map events to events of the same rank")
        super().__init__(event_ndims_in=probe.event_ndims_in,
                         is_constant_jacobian=probe.is_constant_jacobian)

    @property
    def num_layers(self) -> int:
        return self._num_layers

    def layer(self, index: int) -> distrax.Bijector:
        """Layer ``index`` on its own (for inspection and for comparing with an unrolled chain)."""
        return self._make_layer(jax.tree.map(lambda leaf: leaf[index], self._params))

    def _run(self, x: jax.Array, direction: str) -> tuple[jax.Array, jax.Array]:
        batch_shape = x.shape[: x.ndim - self.event_ndims_in]

        def step(carry, params):
            h, log_det = carry
            h_new, ld = getattr(self._make_layer(params), direction)(h)
            if h_new.shape != h.shape:
                raise ValueError(f"Scan layers must keep the shape; {h.shape} -> {h_new.shape}")
            return (h_new, log_det + jnp.broadcast_to(ld, batch_shape)), None

        init = (x, jnp.zeros(batch_shape, x.dtype))
        (y, log_det), _ = jax.lax.scan(step, init, self._params, unroll=self._unroll,
                                       reverse=direction == "inverse_and_log_det")
        return y, log_det

    def forward_and_log_det(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        self._check_forward_input_shape(x)
        return self._run(x, "forward_and_log_det")

    def inverse_and_log_det(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        self._check_inverse_input_shape(y)
        return self._run(y, "inverse_and_log_det")
