"""Spectral norm against the exact largest singular value, sub-pixel transposed convolution
against flax's ConvTranspose, maxout and conditional batch norm against brute force, grouped
batch norm against flax's BatchNorm on each group."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from gen_jax.nn import (
    ConditionalBatchNorm,
    GroupedBatchNorm,
    Maxout,
    SpectralConv,
    SpectralDense,
    SpectralEmbed,
    SubpixelConvTranspose,
    maxout,
    power_iteration,
)


def test_power_iteration_converges_to_the_spectral_norm():
    w = jax.random.normal(jax.random.PRNGKey(0), (30, 20))
    u = jax.random.normal(jax.random.PRNGKey(1), (20,))
    exact = float(jnp.linalg.norm(w, 2))
    one, _ = power_iteration(w, u, n_steps=1)
    many, u_many = power_iteration(w, u, n_steps=200)
    np.testing.assert_allclose(float(many), exact, rtol=1e-5)
    assert float(one) <= exact * (1 + 1e-6)  # a Rayleigh-type estimate never overshoots
    # Restarting from the converged vector keeps the estimate: training amortizes the iteration.
    again, _ = power_iteration(w, u_many, n_steps=1)
    np.testing.assert_allclose(float(again), exact, rtol=1e-5)


def _power_iterated(layer, variables, inputs, calls=50):
    """``variables`` after ``calls`` training-mode calls (one power iteration each, u carried
    in batch_stats)."""
    update = jax.jit(lambda v: {**v, **layer.apply(v, inputs, update_stats=True,
                                                   mutable=["batch_stats"])[1]})
    for _ in range(calls):
        variables = update(variables)
    return variables


def test_spectral_dense_normalizes_its_kernel_over_updates():
    layer = SpectralDense(16)
    x = jax.random.normal(jax.random.PRNGKey(2), (64, 24))  # full column rank
    variables = layer.init(jax.random.PRNGKey(3), x, update_stats=False)
    kernel = variables["params"]["sn"]["kernel"]
    assert float(jnp.linalg.norm(kernel, 2)) > 1.5  # far from normalized before
    variables = _power_iterated(layer, variables, x)
    # The normalized kernel's spectral norm is 1: y = x @ (W / sigma) + b.
    y = layer.apply(variables, x, update_stats=False)
    w_sn = y - variables["params"]["bias"]  # linear in x: recover W / sigma
    w_hat = jnp.linalg.lstsq(x, w_sn)[0]
    np.testing.assert_allclose(float(jnp.linalg.norm(w_hat, 2)), 1.0, rtol=1e-3)
    np.testing.assert_allclose(np.asarray(w_hat), np.asarray(kernel / jnp.linalg.norm(kernel, 2)),
                               atol=1e-3)


def test_spectral_conv_uses_the_flattened_kernel_norm():
    layer = SpectralConv(5, (3, 3), (2, 2))
    x = jax.random.normal(jax.random.PRNGKey(4), (2, 8, 8, 3))
    variables = layer.init(jax.random.PRNGKey(5), x, update_stats=False)
    variables = _power_iterated(layer, variables, x)
    kernel = variables["params"]["sn"]["kernel"]
    sigma = jnp.linalg.norm(kernel.reshape(-1, 5), 2)
    ref = nn.Conv(5, (3, 3), strides=2, padding="SAME").apply(
        {"params": {"kernel": kernel / sigma, "bias": variables["params"]["bias"]}}, x)
    np.testing.assert_allclose(np.asarray(layer.apply(variables, x, update_stats=False)),
                               np.asarray(ref), rtol=1e-4, atol=1e-5)


def test_spectral_embed_looks_up_rows_of_the_normalized_table():
    layer = SpectralEmbed(10, 6)
    ids = jnp.array([3, 0, 9, 3])
    variables = layer.init(jax.random.PRNGKey(6), ids, update_stats=False)
    variables = _power_iterated(layer, variables, ids)
    table = variables["params"]["sn"]["kernel"]
    assert table.shape == (10, 6) and float(jnp.linalg.norm(table, 2)) > 1.5
    expected = table[np.asarray(ids)] / jnp.linalg.norm(table, 2)
    np.testing.assert_allclose(np.asarray(layer.apply(variables, ids, update_stats=False)),
                               np.asarray(expected), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("k", [4, 5])
def test_subpixel_equals_stride2_conv_transpose(k):
    x = jax.random.normal(jax.random.PRNGKey(k), (2, 7, 5, 3))
    ref = nn.ConvTranspose(4, (k, k), strides=(2, 2), padding="SAME")
    variables = ref.init(jax.random.PRNGKey(10 + k), x)
    variables = jax.tree.map(lambda a: a + 0.1, variables)  # non-zero bias too
    sub = SubpixelConvTranspose(4, k)
    np.testing.assert_allclose(np.asarray(sub.apply(variables, x)),
                               np.asarray(ref.apply(variables, x)), rtol=1e-5, atol=1e-5)
    # Same function of the same parameters, so the same gradient too.
    g_ref = jax.grad(lambda v: jnp.sum(jnp.sin(ref.apply(v, x))))(variables)
    g_sub = jax.grad(lambda v: jnp.sum(jnp.sin(sub.apply(v, x))))(variables)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4),
                 g_sub, g_ref)


def test_maxout_takes_the_max_of_consecutive_pieces():
    h = jnp.asarray([[1.0, 5.0, -2.0, 0.0, 3.0, 3.5]])
    np.testing.assert_array_equal(maxout(h, 3), [[5.0, 3.5]])
    np.testing.assert_array_equal(maxout(h, 2), [[5.0, 0.0, 3.5]])
    layer = Maxout(7, pieces=5)
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 4))
    v = layer.init(jax.random.PRNGKey(1), x)
    dense = x @ v["params"]["Dense_0"]["kernel"] + v["params"]["Dense_0"]["bias"]
    np.testing.assert_allclose(layer.apply(v, x), dense.reshape(3, 7, 5).max(-1), rtol=1e-6)
    with pytest.raises(ValueError, match="divisible by pieces"):
        maxout(h, 4)


def test_conditional_batch_norm_scales_and_shifts_per_class():
    layer = ConditionalBatchNorm(3)
    x = jax.random.normal(jax.random.PRNGKey(0), (6, 4)) * 3 + 1
    label = jnp.asarray([0, 1, 2, 0, 1, 2])
    v = layer.init(jax.random.PRNGKey(1), x, label, train=True)
    gamma = jnp.arange(12.0).reshape(3, 4)
    beta = -jnp.arange(12.0).reshape(3, 4)
    v = {**v, "params": {"gamma": {"embedding": gamma}, "beta": {"embedding": beta}}}
    y, _ = layer.apply(v, x, label, train=True, mutable=["batch_stats"])
    normed = (x - x.mean(0)) / jnp.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(y, gamma[label] * normed + beta[label], rtol=1e-4, atol=1e-4)


def test_grouped_batch_norm_with_one_group_is_flax_batch_norm():
    x = jax.random.normal(jax.random.PRNGKey(0), (12, 3, 5)) * 2 + 1
    ref = nn.BatchNorm(use_running_average=False, momentum=0.8)
    layer = GroupedBatchNorm(1, momentum=0.8)
    v = layer.init(jax.random.PRNGKey(1), x, train=False)
    v = {**v, "params": {"scale": jnp.arange(1.0, 6.0), "bias": -jnp.arange(5.0)}}
    assert jax.tree.map(jnp.shape, v) == jax.tree.map(jnp.shape, ref.init(jax.random.PRNGKey(1), x))
    y_ref, s_ref = ref.apply(v, x, mutable=["batch_stats"])
    y, s = layer.apply(v, x, train=True, mutable=["batch_stats"])
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), s, s_ref)


def test_grouped_batch_norm_normalizes_each_interleaved_group_on_its_own():
    # Group j is examples j, j + 3, ... (a pack position); each is normalized as flax's batch
    # norm would normalize it alone, and the running statistics are the whole batch's.
    groups, m = 3, 0.9
    x = jax.random.normal(jax.random.PRNGKey(0), (12, 2, 4)) * jnp.arange(1.0, 13.0)[:, None, None]
    layer = GroupedBatchNorm(groups, momentum=m)
    v = layer.init(jax.random.PRNGKey(1), x, train=False)
    v = {**v, "params": {"scale": jnp.arange(1.0, 5.0), "bias": jnp.arange(4.0)}}
    y, s = layer.apply(v, x, train=True, mutable=["batch_stats"])
    ref = nn.BatchNorm(use_running_average=False)
    for j in range(groups):
        y_j, _ = ref.apply(v, x[j::groups], mutable=["batch_stats"])
        np.testing.assert_allclose(y[j::groups], y_j, rtol=1e-5, atol=1e-5)
    flat = x.reshape(-1, 4)
    np.testing.assert_allclose(s["batch_stats"]["mean"], (1 - m) * flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(s["batch_stats"]["var"], m + (1 - m) * flat.var(0), rtol=1e-5)
    # Inference uses the running statistics, whatever the grouping.
    v_stats = {**v, "batch_stats": s["batch_stats"]}
    ref_eval = nn.BatchNorm(use_running_average=True).apply(v_stats, x)
    np.testing.assert_allclose(layer.apply(v_stats, x, train=False), ref_eval, rtol=1e-5,
                               atol=1e-5)
    with pytest.raises(ValueError, match="a batch of 10 cannot be split into 3 groups"):
        layer.apply(v, x[:10], train=True, mutable=["batch_stats"])
