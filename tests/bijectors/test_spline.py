"""The gathered rational-quadratic spline against distrax's one-hot evaluation, in float64:
values, log-derivatives and gradients, inside the interval, on its knots and in the tails."""

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gen_jax.bijectors as gb
from gen_jax.bijectors._spline import rational_quadratic_forward, rational_quadratic_inverse

K, BOUND = 6, 3.0


def _spline(params, boundary_slopes):
    return distrax.RationalQuadraticSpline(params, -BOUND, BOUND, boundary_slopes=boundary_slopes)


def _inputs(positions, rng):
    """Points inside the bins, exactly on every knot (both ends included) and in both tails,
    for knot ``positions [N, K + 1]``: ``[N, M]``."""
    n = positions.shape[0]
    inside = rng.uniform(-BOUND, BOUND, size=(n, 40))
    tails = np.array([-50.0, -BOUND - 1e-9, BOUND + 1e-9, 7.0])
    return np.concatenate([inside, np.asarray(positions), np.broadcast_to(tails, (n, 4))], 1)


def _ours(direction, params, v, boundary_slopes):
    s = _spline(params, boundary_slopes)
    f = rational_quadratic_forward if direction == "forward" else rational_quadratic_inverse
    return f(v, s.x_pos[:, None], s.y_pos[:, None], s.knot_slopes[:, None])


def _distrax(direction, params, v, boundary_slopes):
    s = _spline(params[:, None], boundary_slopes)
    return getattr(s, f"{direction}_and_log_det")(v)


@pytest.mark.parametrize("scale", [0.0, 1.5])  # 0: the identity spline, where flows start
@pytest.mark.parametrize("boundary_slopes", ["identity", "unconstrained"])
@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_matches_distrax_values_and_gradients_float64(direction, boundary_slopes, scale):
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        params = jnp.asarray(rng.normal(size=(5, 3 * K + 1)) * scale)
        s = _spline(params, boundary_slopes)
        v = jnp.asarray(_inputs(s.x_pos if direction == "forward" else s.y_pos, rng))
        ours = _ours(direction, params, v, boundary_slopes)
        theirs = _distrax(direction, params, v, boundary_slopes)
        for a, b in zip(ours, theirs, strict=True):
            assert a.dtype == jnp.float64 and a.shape == v.shape
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)

        w = jnp.asarray(rng.normal(size=v.shape))  # weights, so every output's gradient counts

        def total(fn):
            return lambda p, x: sum(jnp.sum(w * o) for o in fn(direction, p, x, boundary_slopes))

        g_ours = jax.jit(jax.grad(total(_ours), argnums=(0, 1)))(params, v)
        g_theirs = jax.jit(jax.grad(total(_distrax), argnums=(0, 1)))(params, v)
        for a, b in zip(g_ours, g_theirs, strict=True):
            assert np.all(np.isfinite(a))
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_log_det_is_the_autodiff_derivative_and_inverse_round_trips_float64():
    with jax.enable_x64(True):
        params = jnp.asarray(np.random.default_rng(1).normal(size=3 * K + 1))
        s = _spline(params, "unconstrained")
        x = jnp.linspace(-BOUND - 2.0, BOUND + 2.0, 301)

        def fwd(v):
            return rational_quadratic_forward(v, s.x_pos, s.y_pos, s.knot_slopes)

        y, log_det = fwd(x)
        derivative = jax.vmap(jax.grad(lambda v: fwd(v)[0]))(x)
        np.testing.assert_allclose(log_det, np.log(derivative), rtol=1e-10, atol=1e-10)
        back, inv_log_det = rational_quadratic_inverse(y, s.x_pos, s.y_pos, s.knot_slopes)
        np.testing.assert_allclose(back, x, atol=1e-10)
        np.testing.assert_allclose(inv_log_det, -log_det, atol=1e-10)
        assert np.all(np.diff(np.asarray(y)) > 0)  # strictly increasing


@pytest.mark.parametrize("per_row", [False, True])
def test_knots_broadcast_against_the_inputs(per_row):
    """One spline for every input, or one per row ``[3, 1, K + 1]`` against ``x [3, 4]``."""
    shape = (3, 1, 3 * K + 1) if per_row else (3 * K + 1,)
    params = jnp.asarray(np.random.default_rng(2).normal(size=shape), jnp.float32)
    s = _spline(params, "identity")
    x = jnp.linspace(-4.0, 4.0, 12).reshape(3, 4)
    y, log_det = rational_quadratic_forward(x, s.x_pos, s.y_pos, s.knot_slopes)
    ref_y, ref_log_det = s.forward_and_log_det(x)
    assert y.shape == log_det.shape == (3, 4)
    np.testing.assert_allclose(y, ref_y, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(log_det, ref_log_det, rtol=1e-5, atol=1e-5)
    if per_row:  # the rows really use their own knots
        assert not np.allclose(y[0], _spline(params[1, 0], "identity").forward(x[0]))


def test_nan_input_stays_nan_and_leaves_the_others_alone():
    s = _spline(jnp.zeros(3 * K + 1), "identity")
    y, _ = rational_quadratic_forward(jnp.array([jnp.nan, 1.0]), s.x_pos, s.y_pos, s.knot_slopes)
    assert np.isnan(y[0]) and y[1] == pytest.approx(1.0, abs=1e-6)  # zero params: identity


def test_transformer_uses_the_gathered_spline_and_distrax_knots():
    t = gb.SplineTransformer(num_bins=K, tail_bound=BOUND)
    params = jnp.asarray(np.random.default_rng(3).normal(size=(7, t.num_params)), jnp.float32)
    x = jnp.linspace(-4.0, 4.0, 7)
    y, log_det = t.forward(x, params)
    ref_y, ref_log_det = t.spline(params).forward_and_log_det(x)
    np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(log_det, ref_log_det, rtol=1e-5, atol=1e-5)
    back, inv_log_det = t.inverse(y, params)
    np.testing.assert_allclose(back, x, atol=1e-4)
    np.testing.assert_allclose(inv_log_det, -log_det, atol=1e-4)
