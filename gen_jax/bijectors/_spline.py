"""Rational-quadratic spline evaluation (Durkan et al. 2019) that picks each bin by a gather.

The same maps as ``distrax.RationalQuadraticSpline`` (whose knots this takes: ``x_pos``,
``y_pos``, ``knot_slopes``), with the same bin choice, clipping and linear tails, but the
knots of an input's bin are gathered (``take_along_axis``) instead of summed under a one-hot
bin mask. Under XLA:CPU the mask's gradient is a ``[..., K + 1, 3]`` fusion that recomputes
the spline's backward chain for every knot: 8.6 ms of the 20.4 ms gradient of W2's loss
(``benchmarks/README.md``). The gather's gradient is a scatter-add of one value per knot.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _bin(v: jax.Array, knots: jax.Array) -> jax.Array:
    """Index ``k`` of the bin ``[knots[k], knots[k + 1])`` holding ``v``. Outside the interval
    it is the first or the last bin (NaN: the first), whose result the linear tails replace
    (distrax uses the first bin for all of these; the values and gradients are the same)."""
    return jnp.sum(v[..., None] >= knots[..., 1:-1], axis=-1)


def _take(a: jax.Array, index: jax.Array) -> jax.Array:
    return jnp.take_along_axis(a, index[..., None], axis=-1)[..., 0]


def _bin_knots(v, x_pos, y_pos, knot_slopes, positions):
    """The knots of ``v``'s bin: ``x0, width, y0, height, d0, d1``, each of ``v``'s shape
    broadcast against the knots' leading shape."""
    shape = jnp.broadcast_shapes(v.shape, x_pos.shape[:-1], y_pos.shape[:-1],
                                 knot_slopes.shape[:-1])
    x_pos, y_pos, knot_slopes, positions = (
        jnp.broadcast_to(a, (*shape, a.shape[-1])) for a in (x_pos, y_pos, knot_slopes, positions))
    k = _bin(jnp.broadcast_to(v, shape), positions)
    x0, x1 = _take(x_pos, k), _take(x_pos, k + 1)
    y0, y1 = _take(y_pos, k), _take(y_pos, k + 1)
    d0, d1 = _take(knot_slopes, k), _take(knot_slopes, k + 1)
    return x0, x1 - x0, y0, y1 - y0, d0, d1


def rational_quadratic_forward(
    x: jax.Array, x_pos: jax.Array, y_pos: jax.Array, knot_slopes: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """``y = g(x)`` and ``log|g'(x)|``, elementwise.

    Args:
      x: inputs ``[...]``.
      x_pos, y_pos, knot_slopes: the knots ``[..., K + 1]`` (broadcast against ``x[..., None]``),
        e.g. a ``distrax.RationalQuadraticSpline``'s properties of the same names.
    """
    x0, width, y0, height, d0, d1 = _bin_knots(x, x_pos, y_pos, knot_slopes, x_pos)
    slope = height / width
    z = jnp.clip((x - x0) / width, 0.0, 1.0)
    sq_z = z * z
    z1mz = z - sq_z
    sq_1mz = (1.0 - z) ** 2
    slopes_term = d1 + d0 - 2.0 * slope
    denominator = slope + slopes_term * z1mz
    y = y0 + height * (slope * sq_z + d0 * z1mz) / denominator
    log_det = (2.0 * jnp.log(slope) + jnp.log(d1 * sq_z + 2.0 * slope * z1mz + d0 * sq_1mz)
               - 2.0 * jnp.log(denominator))
    below, above = x <= x_pos[..., 0], x >= x_pos[..., -1]
    y = jnp.where(below, (x - x_pos[..., 0]) * knot_slopes[..., 0] + y_pos[..., 0], y)
    y = jnp.where(above, (x - x_pos[..., -1]) * knot_slopes[..., -1] + y_pos[..., -1], y)
    log_det = jnp.where(below, jnp.log(knot_slopes[..., 0]), log_det)
    log_det = jnp.where(above, jnp.log(knot_slopes[..., -1]), log_det)
    return y, log_det


def _safe_quadratic_root(a, b, c):
    """The root of ``a z^2 + b z + c`` in [0, 1], stable as in distrax (Durkan et al. eq. 29)."""
    disc = b**2 - 4.0 * a * c
    sqrt = jnp.where(disc > 0.0, jnp.sqrt(jnp.clip(disc, jnp.finfo(disc.dtype).tiny)), 0.0)
    # Pick the numerator and denominator, then divide once: dividing in both branches would
    # put 0 / 0 in the branch not taken (a = 0 for the identity spline) and a NaN in its
    # gradient, which jnp.where passes on as 0 * NaN.
    return (jnp.where(b >= 0, 2.0 * c, -b + sqrt)
            / jnp.where(b >= 0, -b - sqrt, 2.0 * a))


def rational_quadratic_inverse(
    y: jax.Array, x_pos: jax.Array, y_pos: jax.Array, knot_slopes: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """``x = g^{-1}(y)`` and ``log|(g^{-1})'(y)|``, elementwise; arguments as
    :func:`rational_quadratic_forward`."""
    x0, width, y0, height, d0, d1 = _bin_knots(y, x_pos, y_pos, knot_slopes, y_pos)
    slope = height / width
    w = jnp.clip((y - y0) / height, 0.0, 1.0)
    slopes_term = d1 + d0 - 2.0 * slope
    c = -slope * w
    b = d0 - slopes_term * w
    z = jnp.clip(_safe_quadratic_root(slope - b, b, c), 0.0, 1.0)
    x = width * z + x0
    sq_z = z * z
    z1mz = z - sq_z
    sq_1mz = (1.0 - z) ** 2
    denominator = slope + slopes_term * z1mz
    log_det = (-2.0 * jnp.log(slope) - jnp.log(d1 * sq_z + 2.0 * slope * z1mz + d0 * sq_1mz)
               + 2.0 * jnp.log(denominator))
    below, above = y <= y_pos[..., 0], y >= y_pos[..., -1]
    x = jnp.where(below, (y - y_pos[..., 0]) / knot_slopes[..., 0] + x_pos[..., 0], x)
    x = jnp.where(above, (y - y_pos[..., -1]) / knot_slopes[..., -1] + x_pos[..., -1], x)
    log_det = jnp.where(below, -jnp.log(knot_slopes[..., 0]), log_det)
    log_det = jnp.where(above, -jnp.log(knot_slopes[..., -1]), log_det)
    return x, log_det
