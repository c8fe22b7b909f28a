"""Scan: the same numbers as the unrolled chain, and a trace whose size does not grow with depth."""

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gen_jax.bijectors as gb

DIM, LAYERS = 4, 3
NET = gb.MLPConditioner(out_shape=(2, 2), hidden=(8,), activation="tanh", zero_init=False)


def _block(params):
    """Reverse, then an affine coupling: identical blocks, alternating halves in effect."""
    coupling = gb.AffineCoupling(gb.half_mask(DIM), lambda h: NET.apply(params, h))
    return distrax.Chain([coupling, gb.Permute.reverse(DIM)])


@pytest.fixture(scope="module")
def stacked():
    init = jax.jit(lambda key: gb.stacked_init(lambda k: NET.init(k, jnp.zeros(2)), key, LAYERS))
    return init(jax.random.key(0))


def _unrolled(stacked):
    layers = [_block(jax.tree.map(lambda a, i=i: a[i], stacked)) for i in range(LAYERS)]
    return distrax.Chain(layers[::-1])  # Chain applies its last bijector first


def test_scan_equals_the_unrolled_chain(stacked):
    assert jax.tree.leaves(stacked)[0].shape[0] == LAYERS
    x = jax.random.normal(jax.random.key(1), (5, DIM))
    scan = gb.Scan(_block, stacked)
    chain = _unrolled(stacked)
    for method in ("forward_and_log_det", "inverse_and_log_det"):
        y, log_det = getattr(scan, method)(x)
        y_ref, log_det_ref = getattr(chain, method)(x)
        np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(log_det, log_det_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scan.layer(1).forward(x), _block(
        jax.tree.map(lambda a: a[1], stacked)).forward(x))


def test_scan_gradients_equal_the_unrolled_chain(stacked):
    x = jax.random.normal(jax.random.key(2), (5, DIM))

    def nll(params, build):
        z, log_det = build(params).inverse_and_log_det(x)
        return jnp.mean(0.5 * jnp.sum(z**2, -1) - log_det)

    grads = jax.jit(jax.grad(lambda p: nll(p, lambda q: gb.Scan(_block, q))))(stacked)
    grads_ref = jax.jit(jax.grad(lambda p: nll(p, _unrolled)))(stacked)
    for g, g_ref in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_ref), strict=True):
        np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-6)


def test_trace_size_does_not_grow_with_depth():
    def num_equations(layers):
        params = jax.eval_shape(lambda: gb.stacked_init(lambda k: NET.init(k, jnp.zeros(2)),
                                                        jax.random.key(0), layers))
        params = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), params)
        jaxpr = jax.make_jaxpr(lambda p, x: gb.Scan(_block, p).inverse_and_log_det(x))(
            params, jnp.ones((2, DIM)))
        return len(jaxpr.jaxpr.eqns)

    assert num_equations(4) == num_equations(32)


def test_scan_rejects_ragged_stacks():
    with pytest.raises(ValueError, match="leading size"):
        gb.Scan(_block, {"a": jnp.zeros((3, 2)), "b": jnp.zeros((4, 2))})
