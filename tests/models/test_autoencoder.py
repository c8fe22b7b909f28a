"""Deterministic autoencoder: loss against closed forms, no sampling, smoke training."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.stats

from gen_jax.data._types import DatasetInfo
from gen_jax.models import AutoencoderConfig, build

DIGITS8 = DatasetInfo("digits", (8, 8, 1), 10, 17)


def test_sample_raises_a_one_line_error_pointing_to_reconstruct():
    model = build("ae", AutoencoderConfig(), DIGITS8)
    variables = jax.jit(model.init)(jax.random.key(0), {"x": jnp.zeros((2, 8, 8, 1))})
    with pytest.raises(ValueError, match="no prior") as err:
        model.sample(variables, jax.random.key(1), 4)
    assert "reconstruct" in str(err.value) and "\n" not in str(err.value)


def test_gaussian_loss_is_a_scaled_squared_error():
    """With a fixed scale s: nll = sum (x - recon)^2 / (2 s^2) + D (log s + log(2 pi) / 2)."""
    dim, log_s = 5, math.log(0.3)
    info = DatasetInfo("toy", (dim,), 0, None)
    model = build("ae", AutoencoderConfig(hidden=(8,), latent_dim=2, likelihood="gaussian",
                                                scale="fixed", log_scale=log_s), info)
    x = jax.random.normal(jax.random.key(0), (6, dim))
    variables = jax.jit(model.init)(jax.random.key(1), {"x": x})
    metrics = jax.jit(model.evaluate)(variables, {"x": x}, jax.random.key(2))
    recon = np.asarray(jax.jit(model.reconstruct)(variables, x), np.float64)
    x64 = np.asarray(x, np.float64)
    expected = scipy.stats.norm.logpdf(x64, recon, math.exp(log_s)).sum(1)
    np.testing.assert_allclose(metrics["nll"], -expected, rtol=1e-5)
    np.testing.assert_allclose(metrics["recon_error"], ((x64 - recon) ** 2).mean(1), rtol=1e-5)
    loss, (train_metrics, updates) = model.loss(variables, {"x": x}, jax.random.key(3))
    np.testing.assert_allclose(loss, -expected.mean(), rtol=1e-5)
    assert updates == {} and set(train_metrics) == {"nll", "recon_error"}


def test_a_float64_autoencoder_keeps_float64_to_the_loss():
    # Mixed precision narrows only the compute; a float64 model (x64 on) keeps its precision:
    # the loss equals scipy's float64 log-density of the decoder's outputs to 1e-12.
    with jax.enable_x64(True):
        info = DatasetInfo("toy", (5,), 0, None)
        config = AutoencoderConfig(hidden=(8,), latent_dim=2, likelihood="gaussian",
                                   scale="predicted")
        model = build("ae", config, info, dtype=jnp.float64)
        x = jax.random.normal(jax.random.key(0), (6, 5), jnp.float64)
        variables = jax.tree.map(lambda a: a.astype(jnp.float64),
                                 model.init(jax.random.key(1), {"x": x}))
        loss, _ = model.loss(variables, {"x": x}, jax.random.key(3))
        assert model.reconstruct(variables, x).dtype == loss.dtype == jnp.float64
        loc, log_scale = model.net.apply(variables, x)
        expected = scipy.stats.norm.logpdf(np.asarray(x), np.asarray(loc),
                                           np.exp(np.asarray(log_scale))).sum(1)
        np.testing.assert_allclose(loss, -expected.mean(), rtol=1e-12)


def test_bernoulli_loss_is_the_cross_entropy_of_the_reconstruction():
    info = DatasetInfo("toy", (12,), 0, 2)
    model = build("ae", AutoencoderConfig(hidden=(8,), latent_dim=3), info)
    x = jax.random.uniform(jax.random.key(0), (5, 12))  # grey values are fine
    variables = jax.jit(model.init)(jax.random.key(1), {"x": x})
    p = np.asarray(jax.jit(model.reconstruct)(variables, x), np.float64)
    x64 = np.asarray(x, np.float64)
    ce = -(x64 * np.log(p) + (1 - x64) * np.log1p(-p)).sum(1)
    np.testing.assert_allclose(jax.jit(model.evaluate)(variables, {"x": x}, None)["nll"], ce,
                               rtol=1e-4)


def test_conditional_autoencoder_needs_labels():
    model = build("ae", AutoencoderConfig(hidden=(8,), latent_dim=2, conditional=True),
                              DatasetInfo("toy", (4,), 3, 2))
    x = jnp.full((2, 4), 0.5)
    variables = jax.jit(model.init)(jax.random.key(0), {"x": x, "label": jnp.array([0, 2])})
    with pytest.raises(ValueError, match="class-conditional"):
        model.loss(variables, {"x": x}, None)
    assert model.reconstruct(variables, x, jnp.array([1, 1])).shape == (2, 4)
    # the label reaches the decoder: the same code decoded under another label differs
    assert not np.allclose(model.reconstruct(variables, x, jnp.array([0, 0])),
                           model.reconstruct(variables, x, jnp.array([2, 2])))


@pytest.mark.parametrize("field, value", [
    ("hidden", (0,)), ("hidden", (8, -3)), ("channels", (0,)), ("kernel_size", 0),
    ("kernel_size", -1), ("log_scale", float("nan")), ("log_scale", float("inf")),
])
def test_bad_network_sizes_are_one_line_errors(field, value):
    config = AutoencoderConfig(arch="conv", **{field: value})
    with pytest.raises(ValueError, match=f"ae: .*{field}") as err:
        build("ae", config, DIGITS8)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("config, info, match", [
    (AutoencoderConfig(conditional=True), DatasetInfo("ring8", (2,), 0, None), "conditional"),
    (AutoencoderConfig(arch="conv"), DatasetInfo("flat", (64,), 10, 17), "arch='mlp'"),
    (AutoencoderConfig(likelihood="bernoulli"), DatasetInfo("ring8", (2,), 0, None),
     "likelihood='gaussian'"),
])
def test_build_rejects_configs_that_do_not_fit_the_data(config, info, match):
    with pytest.raises(ValueError, match=match):
        build("ae", config, info)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_a_few_adam_steps_lower_the_loss(arch):
    rng = np.random.default_rng(0)
    protos = rng.random((4, 8, 8, 1)) < 0.5
    x = jnp.asarray(protos[rng.integers(0, 4, 64)] ^ (rng.random((64, 8, 8, 1)) < 0.05),
                    jnp.float32)
    model = build("ae", AutoencoderConfig(arch=arch, hidden=(32,), channels=(8,),
                                                latent_dim=4), DIGITS8)
    tx = optax.adam(3e-3)
    variables = jax.jit(model.init)(jax.random.key(0), {"x": x})
    opt_state = tx.init(variables)

    @jax.jit
    def step(variables, opt_state):
        (loss, _), grads = jax.value_and_grad(
            lambda v: model.loss(v, {"x": x}, None, train=True), has_aux=True)(variables)
        updates, opt_state = tx.update(grads, opt_state, variables)
        return optax.apply_updates(variables, updates), opt_state, loss

    losses = []
    for _ in range(60):
        variables, opt_state, loss = step(variables, opt_state)
        losses.append(float(loss))
    assert np.mean(losses[-5:]) < 0.7 * losses[0], (losses[0], losses[-5:])
