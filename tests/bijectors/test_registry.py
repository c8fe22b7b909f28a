"""Properties every bijector must have (flowjax's registry test; distrax's variants test).

Inverse round trip, log-det against ``slogdet`` of the autodiff Jacobian in float64, forward and
inverse log-dets that negate, batch shapes, and equal values with and without ``jit`` (an
unjitted single example against its row of a jitted batch: one check for both).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ._registry import CASES, built, cast_floats, sample_inputs

BATCH = (2, 3)  # one batch shape throughout, so each case's jitted pair compiles once
cases = pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])


@pytest.fixture
def x64():
    """float64 for one test; the context manager restores the previous setting on exit, so the
    tests that share this pytest process keep float32."""
    with jax.enable_x64(True):
        yield
    assert not jax.config.jax_enable_x64


@functools.cache
def _round_trip(case):
    """Jitted ``(params, x, context) -> (y, log_det, x_back, inverse_log_det)``, once per case."""
    _, make = built(case)

    @jax.jit
    def round_trip(params, x, context):
        bijector = make(params, context)
        y, log_det = bijector.forward_and_log_det(x)
        return (y, log_det, *bijector.inverse_and_log_det(y))

    return round_trip


def _batch(case):
    params, _ = built(case)
    x, context = sample_inputs(case, jax.random.key(1), BATCH)
    return params, x, context, _round_trip(case)(params, x, context)


@cases
def test_round_trip_and_log_dets_negate(case):
    _, x, _, (y, forward_log_det, x_back, inverse_log_det) = _batch(case)
    assert jnp.all(jnp.isfinite(y)) and jnp.all(jnp.isfinite(forward_log_det))
    np.testing.assert_allclose(x_back, x, atol=2e-4, rtol=1e-4)
    np.testing.assert_allclose(forward_log_det, -inverse_log_det, atol=2e-4, rtol=1e-4)


@cases
def test_log_det_matches_jacobian_in_float64(case, x64):
    params, make = built(case)
    params = cast_floats(params, jnp.float64)
    x, context = sample_inputs(case, jax.random.key(2), (), jnp.float64)

    @jax.jit
    def check(params, x, context):
        bijector = make(params, context)
        y, log_det = bijector.forward_and_log_det(x)
        x_back, inv_log_det = bijector.inverse_and_log_det(y)
        jac = jax.jacfwd(lambda v: bijector.forward(v.reshape(x.shape)).ravel())(x.ravel())
        return log_det, jnp.linalg.slogdet(jac), inv_log_det, x_back

    log_det, (sign, expected), inv_log_det, x_back = check(params, x, context)
    assert log_det.dtype == jnp.float64 and log_det.shape == ()
    assert sign != 0
    np.testing.assert_allclose(log_det, expected, rtol=1e-9, atol=1e-9)
    # y = f(x), so log|det J_{f^-1}(y)| = -log|det J_f(x)|: checks the inverse's log-det as tightly.
    np.testing.assert_allclose(inv_log_det, -expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(x_back, x, rtol=1e-9, atol=1e-9)


@cases
def test_batch_dims(case):
    _, x, _, (y, log_det, x_back, inverse_log_det) = _batch(case)
    assert y.shape[:2] == BATCH and log_det.shape == BATCH
    assert x_back.shape == x.shape and inverse_log_det.shape == BATCH


@cases
def test_unjitted_single_example_matches_jitted_batch(case):
    """Without jit, one unbatched example: the same values as its row of the jitted batch."""
    params, x, context, (y, log_det, x_back, inverse_log_det) = _batch(case)
    _, make = built(case)
    single = make(params, None if context is None else context[1, 2])
    y_one, log_det_one = single.forward_and_log_det(x[1, 2])
    assert log_det_one.shape == ()
    np.testing.assert_allclose(y_one, y[1, 2], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(log_det_one, log_det[1, 2], atol=1e-4, rtol=1e-5)
    x_one, inverse_log_det_one = single.inverse_and_log_det(y[1, 2])
    np.testing.assert_allclose(x_one, x_back[1, 2], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(inverse_log_det_one, inverse_log_det[1, 2], atol=1e-4, rtol=1e-5)


def test_float64_does_not_leak():
    assert jnp.ones(1).dtype == jnp.float32
    assert not jax.config.jax_enable_x64
