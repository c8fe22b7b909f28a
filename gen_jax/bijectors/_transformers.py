"""Elementwise transformers: the invertible scalar maps that couplings and MADE layers apply.

A transformer maps ``x -> y`` elementwise given parameters ``params [..., num_params]`` from a
conditioner (one row per transformed coordinate), and returns the elementwise log-derivative.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import distrax
import jax
import jax.numpy as jnp

from ._spline import rational_quadratic_forward, rational_quadratic_inverse


class Transformer(Protocol):
    """What couplings and :class:`MaskedAutoregressive` need from an elementwise transformer."""

    @property
    def num_params(self) -> int:
        """Conditioner outputs per transformed coordinate."""
        ...

    def forward(self, x: jax.Array, params: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``y = f(x; params)`` and ``log f'(x)``, both of ``x``'s (broadcast) shape."""
        ...

    def inverse(self, y: jax.Array, params: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``x = f^{-1}(y; params)`` and ``log (f^{-1})'(y)``."""
        ...


def bounded_log_scale(raw: jax.Array, bound: float | None) -> jax.Array:
    """Soft clamp ``bound * tanh(raw / bound)``: the identity near 0, within ``(-bound, bound)``.

    ``bound=None`` leaves ``raw`` unbounded.
    """
    if bound is None:
        return raw
    return bound * jnp.tanh(raw / bound)


class AffineTransformer(NamedTuple):
    """``y = x * exp(log_scale) + shift`` with ``params[..., 0] = shift``,
    ``params[..., 1] = raw log-scale``, and ``log_scale = bounded_log_scale(raw, log_scale_bound)``.

    The default bound 3 keeps each scale within ``[e^-3, e^3] ~ [0.05, 20]``, which stops one
    layer from blowing up early in training, while the soft clamp's slope of 1 at 0 leaves small
    log-scales exactly as the network outputs them. Zero parameters give the identity.
    """

    log_scale_bound: float | None = 3.0

    @property
    def num_params(self) -> int:
        return 2

    def _shift_log_scale(self, params: jax.Array) -> tuple[jax.Array, jax.Array]:
        return params[..., 0], bounded_log_scale(params[..., 1], self.log_scale_bound)

    def forward(self, x: jax.Array, params: jax.Array) -> tuple[jax.Array, jax.Array]:
        shift, log_scale = self._shift_log_scale(params)
        y = x * jnp.exp(log_scale) + shift
        return y, jnp.broadcast_to(log_scale, y.shape)

    def inverse(self, y: jax.Array, params: jax.Array) -> tuple[jax.Array, jax.Array]:
        shift, log_scale = self._shift_log_scale(params)
        x = (y - shift) * jnp.exp(-log_scale)
        return x, jnp.broadcast_to(-log_scale, x.shape)


def spline_num_params(num_bins: int, boundary_slopes: str = "identity") -> int:
    """Conditioner outputs per coordinate for a ``num_bins`` spline.

    ``3K - 1`` for ``'identity'`` (K widths, K heights, the K - 1 interior knot slopes: the two
    boundary slopes are fixed at 1), ``3K + 1`` for every other distrax ``boundary_slopes`` option.
    """
    return 3 * num_bins - 1 if boundary_slopes == "identity" else 3 * num_bins + 1


class SplineTransformer(NamedTuple):
    """A rational-quadratic spline (Durkan et al. 2019) on ``[-tail_bound, tail_bound]``.

    The knots are ``distrax.RationalQuadraticSpline``'s (:meth:`spline`) and so is the map;
    it is evaluated by :func:`rational_quadratic_forward` / :func:`rational_quadratic_inverse`,
    which pick the bin by a gather and differentiate faster. Outside the interval the map is linear:
    with ``boundary_slopes='identity'`` (the default, NSF's "linear tails") it is the identity
    there, with ``'unconstrained'`` it continues with the learned boundary slope. Zero parameters
    give the identity.
    """

    num_bins: int = 8
    tail_bound: float = 5.0
    boundary_slopes: str = "identity"
    min_bin_size: float = 1e-4
    min_knot_slope: float = 1e-4

    @property
    def num_params(self) -> int:
        return spline_num_params(self.num_bins, self.boundary_slopes)

    def spline(self, params: jax.Array) -> distrax.RationalQuadraticSpline:
        """The distrax spline for ``params [..., num_params]``."""
        if params.shape[-1] != self.num_params:
            raise ValueError(f"a {self.num_bins}-bin spline with {self.boundary_slopes!r} "
                             f"boundary slopes takes {self.num_params} parameters per "
                             f"coordinate, got {params.shape[-1]}")
        if self.boundary_slopes == "identity":
            # distrax takes 3K + 1 and overwrites the two boundary slopes: pad them.
            k = self.num_bins
            pad = jnp.zeros((*params.shape[:-1], 1), params.dtype)
            params = jnp.concatenate([params[..., : 2 * k], pad, params[..., 2 * k:], pad], -1)
        return distrax.RationalQuadraticSpline(
            params, range_min=-self.tail_bound, range_max=self.tail_bound,
            boundary_slopes=self.boundary_slopes, min_bin_size=self.min_bin_size,
            min_knot_slope=self.min_knot_slope)

    def forward(self, x: jax.Array, params: jax.Array) -> tuple[jax.Array, jax.Array]:
        s = self.spline(params)
        return rational_quadratic_forward(x, s.x_pos, s.y_pos, s.knot_slopes)

    def inverse(self, y: jax.Array, params: jax.Array) -> tuple[jax.Array, jax.Array]:
        s = self.spline(params)
        return rational_quadratic_inverse(y, s.x_pos, s.y_pos, s.knot_slopes)
