"""Couplings: the passive/active split, and values against distrax and a hand computation."""

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gen_jax.bijectors as gb


def test_partition_layouts():
    half = gb.Partition(gb.half_mask(6))
    assert half.feature_split and half.active_shape == (3,) and half.params_shape == (3,)
    channel = gb.Partition(gb.channel_mask((4, 4, 6), flip=True))
    assert channel.feature_split and channel.active_shape == (4, 4, 3)
    board = gb.Partition(gb.checkerboard_mask((4, 4, 2)))
    assert not board.feature_split
    assert board.active_shape == (16,) and board.params_shape == (4, 4, 2)


@pytest.mark.parametrize("mask", [
    np.array([True, False, False, True, False, True]),
    gb.checkerboard_mask((2, 4, 3), flip=True),
    np.random.default_rng(0).random((3, 2, 2)) < 0.5,
])
def test_partition_split_and_merge_match_numpy(mask):
    part = gb.Partition(mask)
    x = np.random.default_rng(1).normal(size=(2, *mask.shape)).astype(np.float32)
    np.testing.assert_array_equal(part.active(jnp.asarray(x)).reshape(2, -1),
                                  x[:, ~mask].reshape(2, -1))
    new_active = -np.arange(int((~mask).sum()), dtype=np.float32) - 1
    expected = x.copy()
    expected[:, ~mask] = new_active
    merged = part.merge(jnp.asarray(x), jnp.broadcast_to(new_active.reshape(part.active_shape),
                                                         (2, *part.active_shape)))
    np.testing.assert_array_equal(merged, expected)


def _conditioner(num_params, passive, active, seed=0):
    """A fixed random linear conditioner ``[..., passive] -> [..., active, num_params]``."""
    w = jnp.asarray(np.random.default_rng(seed).normal(size=(passive, active * num_params)))
    return lambda h: jnp.tanh(h @ w.astype(h.dtype)).reshape(*h.shape[:-1], active, num_params)


def test_spline_coupling_matches_distrax_masked_coupling():
    dim, num_bins, bound = 6, 5, 2.0
    mask = gb.half_mask(dim, flip=True)  # last 3 passive
    num_params = gb.spline_num_params(num_bins)
    cond = _conditioner(num_params, 3, 3)
    ours = gb.SplineCoupling(mask, cond, num_bins=num_bins, tail_bound=bound)

    def full_params(masked_x):  # distrax: params for every coordinate, from the masked input
        p = cond(masked_x[..., 3:])
        p = jnp.concatenate([p[..., : 2 * num_bins], jnp.zeros((*p.shape[:-1], 1)),
                             p[..., 2 * num_bins:], jnp.zeros((*p.shape[:-1], 1))], -1)
        return jnp.concatenate([p, jnp.zeros_like(p)], axis=-2)

    reference = distrax.MaskedCoupling(
        mask, full_params, lambda p: distrax.RationalQuadraticSpline(p, -bound, bound,
                                                                    boundary_slopes="identity"),
        event_ndims=1)
    x = 2.0 * jax.random.normal(jax.random.key(0), (7, dim))  # inside and outside [-2, 2]

    @jax.jit
    def both(x):
        y, log_det = ours.forward_and_log_det(x)
        return (y, log_det, *reference.forward_and_log_det(x), *ours.inverse_and_log_det(y),
                reference.inverse_log_det_jacobian(y))

    y, log_det, y_ref, log_det_ref, x_back, inv, inv_ref = both(x)
    np.testing.assert_allclose(y, y_ref, atol=1e-5)
    np.testing.assert_allclose(log_det, log_det_ref, atol=1e-5)
    np.testing.assert_allclose(inv, inv_ref, atol=1e-5)
    np.testing.assert_allclose(x_back, x, atol=1e-5)


def test_affine_coupling_matches_hand_computation():
    mask = np.array([True, False, True, False])
    cond = _conditioner(2, 2, 2, seed=1)
    layer = gb.AffineCoupling(mask, lambda h: 4.0 * cond(h), log_scale_bound=2.0)
    x = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    y, log_det = layer.forward_and_log_det(jnp.asarray(x))
    params = np.asarray(4.0 * cond(jnp.asarray(x[:, mask])))
    shift, log_scale = params[..., 0], 2.0 * np.tanh(params[..., 1] / 2.0)
    assert np.abs(log_scale).max() < 2.0
    np.testing.assert_allclose(y[:, mask], x[:, mask])  # passive part copied
    np.testing.assert_allclose(y[:, ~mask], x[:, ~mask] * np.exp(log_scale) + shift, rtol=1e-5)
    np.testing.assert_allclose(log_det, log_scale.sum(-1), rtol=1e-5)


def test_zero_initialized_conditioner_gives_the_identity():
    net = gb.MLPConditioner(out_shape=(2, gb.spline_num_params(4)), hidden=(8,))
    x = jax.random.normal(jax.random.key(0), (3, 4))
    params = jax.jit(net.init)(jax.random.key(1), x[..., :2])
    layer = gb.SplineCoupling(gb.half_mask(4), lambda h: net.apply(params, h), num_bins=4)
    y, log_det = jax.jit(layer.forward_and_log_det)(x)
    np.testing.assert_allclose(y, x, atol=1e-5)
    np.testing.assert_allclose(log_det, 0.0, atol=1e-5)


def test_wrong_conditioner_output_is_reported():
    layer = gb.AffineCoupling(gb.half_mask(4), lambda h: jnp.zeros((*h.shape[:-1], 4, 2)))
    with pytest.raises(ValueError, match=r"\[\.\.\., 2, 2\]"):
        layer.forward(jnp.ones((3, 4)))
    with pytest.raises(ValueError, match="needs both passive"):
        gb.AffineCoupling(np.ones(4, bool), lambda h: h)
