"""MAF and IAF: which direction takes one pass, and the affine MAF against its formula."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gen_jax.bijectors as gb
from gen_jax.nn import MADE

DIM = 4


def _layer(direction, transformer=None):
    transformer = transformer or gb.AffineTransformer()
    made = MADE(dim=DIM, hidden=(8,), num_params=transformer.num_params)
    variables = made.init(jax.random.key(0), jnp.zeros(DIM))
    layer = gb.MaskedAutoregressive(lambda u: made.apply(variables, u), transformer=transformer,
                                    direction=direction)
    return layer, lambda u: made.apply(variables, u)


def _has_loop(f, x):
    jaxpr = str(jax.make_jaxpr(f)(x))
    return "scan[" in jaxpr or "while[" in jaxpr


@pytest.mark.parametrize("direction", ["maf", "iaf"])
def test_one_pass_direction(direction):
    layer, _ = _layer(direction)
    x = jnp.ones((2, DIM))
    # MAF: density (inverse) in one pass, sampling (forward) in D; IAF the other way round.
    assert _has_loop(layer.forward, x) == (direction == "maf")
    assert _has_loop(layer.inverse, x) == (direction == "iaf")


def test_affine_maf_inverse_matches_formula():
    layer, made = _layer("maf")
    x = jax.random.normal(jax.random.key(1), (3, DIM))
    z, log_det = layer.inverse_and_log_det(x)
    params = made(x)
    shift, log_scale = params[..., 0], 3.0 * jnp.tanh(params[..., 1] / 3.0)
    np.testing.assert_allclose(z, (x - shift) * jnp.exp(-log_scale), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(log_det, -log_scale.sum(-1), rtol=1e-5)


def test_rejects_unknown_direction_and_bad_conditioner():
    with pytest.raises(ValueError, match="direction"):
        gb.MaskedAutoregressive(lambda u: u, direction="forward")
    layer = gb.MaskedAutoregressive(lambda u: jnp.zeros((*u.shape, 5)))
    with pytest.raises(ValueError, match="conditioner"):
        layer.inverse(jnp.ones(DIM))
