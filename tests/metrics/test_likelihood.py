"""Importance-sampled log-likelihood: streaming logsumexp, convergence to a known log p(x)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from gen_jax.data._types import DatasetInfo
from gen_jax.metrics import bits_per_dim, evaluate_log_likelihood, importance_log_likelihood
from gen_jax.models import VAEConfig, build


class FakeModel:
    """Log weights drawn from the key: lets the chunked result be recomputed directly."""

    def log_importance_weights(self, variables, x, key, num_samples, label=None):
        w = variables["scale"] * jax.random.normal(key, (num_samples, x.shape[0]))
        return w + x[:, 0] + (0.0 if label is None else label.astype(jnp.float32))


@pytest.mark.parametrize("num_samples, chunk_size", [(100, 25), (103, 25), (10, 50)])
def test_streaming_logsumexp_equals_the_direct_one(num_samples, chunk_size):
    model, variables = FakeModel(), {"scale": 30.0}  # large spread: exercises the rescaling
    x = jnp.arange(6.0).reshape(3, 2)
    key = jax.random.key(0)
    got = jax.jit(lambda v, x: importance_log_likelihood(
        model, v, x, key, num_samples=num_samples, chunk_size=chunk_size))(variables, x)
    size = min(chunk_size, num_samples)
    chunks = [model.log_importance_weights(variables, x, jax.random.fold_in(key, i), size)
              for i in range(num_samples // size)]
    if num_samples % size:
        chunks.append(model.log_importance_weights(
            variables, x, jax.random.fold_in(key, num_samples // size), num_samples % size))
    log_w = np.concatenate([np.asarray(c, np.float64) for c in chunks])
    assert log_w.shape == (num_samples, 3)
    expected = scipy.special.logsumexp(log_w, axis=0) - math.log(num_samples)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_evaluate_log_likelihood_pads_the_last_batch_and_reports_the_standard_error():
    model, variables = FakeModel(), {"scale": 1.0}
    x = np.arange(14.0, dtype=np.float32).reshape(7, 2)
    labels = np.arange(7) % 3
    key = jax.random.key(1)
    est, per_example = evaluate_log_likelihood(model, variables, x, key, num_samples=40,
                                               batch_size=3, chunk_size=16, label=labels,
                                               per_example=True)
    expected = []
    for i, start in enumerate(range(0, 7, 3)):
        index = np.minimum(np.arange(start, start + 3), 6)  # the last batch repeats its last row
        out = importance_log_likelihood(model, variables, jnp.asarray(x[index]),
                                        jax.random.fold_in(key, i), num_samples=40, chunk_size=16,
                                        label=jnp.asarray(labels[index]))
        expected.append(np.asarray(out)[:len(set(index))])
    nll = -np.concatenate(expected)
    np.testing.assert_allclose(per_example, nll, rtol=1e-5)
    mean, stderr = evaluate_log_likelihood(model, variables, x, key, num_samples=40,
                                           batch_size=3, chunk_size=16, label=labels)
    np.testing.assert_allclose(mean, nll.mean(), rtol=1e-5)
    np.testing.assert_allclose(stderr, nll.std(ddof=1) / math.sqrt(7), rtol=1e-5)


def _linear_gaussian(perturb):
    """Linear-Gaussian VAE with p(x) = N(b, W W^T + s^2 I); the encoder is the exact posterior
    (perturb = 0) or a worse one (mean shrunk, variance inflated). Returns (model, variables,
    x, exact log p(x))."""
    dim, latent, noise = 6, 2, 0.5
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    w = q[:, :latent] * np.array([2.0, 1.0])  # orthogonal columns: diagonal exact posterior
    b = rng.normal(size=dim)
    post_var = 1.0 / (1.0 + np.diag(w.T @ w) / noise**2)
    k_mean = w * post_var / noise**2 * (1.0 - 0.3 * perturb)
    post_var = post_var * (1.0 + 1.5 * perturb)
    info = DatasetInfo("linear", (dim,), 0, None)
    model = build("vae", VAEConfig(hidden=(), latent_dim=latent, likelihood="gaussian",
                                scale="fixed", log_scale=math.log(noise)), info)
    x = b + rng.normal(size=(8, latent)) @ w.T + noise * rng.normal(size=(8, dim))
    params = {
        "encoder": {"MLP_0": {"Dense_0": {
            "kernel": np.concatenate([k_mean, np.zeros((dim, latent))], axis=1),
            "bias": np.concatenate([-b @ k_mean, np.log(post_var)])}}},
        "decoder": {"MLP_0": {"Dense_0": {"kernel": w.T, "bias": b}}},
    }
    variables = {"params": jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), params)}
    shapes = jax.eval_shape(model.init, jax.random.key(0), {"x": jnp.zeros((1, dim))})
    assert jax.tree.map(jnp.shape, variables) == jax.tree.map(jnp.shape, shapes)
    log_px = scipy.stats.multivariate_normal(b, w @ w.T + noise**2 * np.eye(dim)).logpdf(x)
    return model, variables, jnp.asarray(x, jnp.float32), log_px


def test_exact_posterior_gives_the_exact_log_likelihood():
    model, variables, x, log_px = _linear_gaussian(perturb=0.0)
    got = importance_log_likelihood(model, variables, x, jax.random.key(0), num_samples=10,
                                    chunk_size=4)
    np.testing.assert_allclose(got, log_px, atol=2e-4)


def test_estimate_converges_to_the_true_log_likelihood():
    """With a poor proposal the k = 1 estimate is far below log p(x); k = 5000 is within 0.05 nat
    of it on every example (the gap shrinks like Var(w) / (2 k p(x)^2))."""
    model, variables, x, log_px = _linear_gaussian(perturb=1.0)
    estimate = jax.jit(lambda v, x, key, k: importance_log_likelihood(
        model, v, x, key, num_samples=k, chunk_size=1000), static_argnums=3)
    small = np.mean([np.asarray(estimate(variables, x, jax.random.key(s), 1)) for s in range(50)],
                    axis=0)
    large = np.asarray(estimate(variables, x, jax.random.key(99), 5000))
    assert np.all(log_px - small > 0.1), log_px - small  # the ELBO-like k = 1 estimate is low
    np.testing.assert_allclose(large, log_px, atol=0.05)
    assert np.mean(np.abs(large - log_px)) < 0.02


def test_conditional_model_gets_its_labels():
    info = DatasetInfo("toy", (5,), 3, 2)
    model = build("vae", VAEConfig(hidden=(8,), latent_dim=2, conditional=True), info)
    x = jnp.full((4, 5), 1.0)
    label = jnp.array([0, 1, 2, 0], jnp.int32)
    variables = jax.jit(model.init)(jax.random.key(0), {"x": x, "label": label})
    got = importance_log_likelihood(model, variables, x, jax.random.key(1), num_samples=8,
                                    chunk_size=4, label=label)
    assert got.shape == (4,) and np.all(np.isfinite(got))
    with pytest.raises(ValueError, match="class-conditional"):
        importance_log_likelihood(model, variables, x, jax.random.key(1), num_samples=8)


def test_bits_per_dim():
    np.testing.assert_allclose(bits_per_dim(784 * math.log(2.0), 784), 1.0)
    # a density of (k + u) / 256 in [0, 1]^D -> bits of the 8-bit data: + log2(256) = 8 bits
    np.testing.assert_allclose(bits_per_dim(0.0, 3072, num_levels=256), 8.0)
    np.testing.assert_allclose(bits_per_dim(np.array([-3072 * math.log(2.0)]), 3072,
                                            num_levels=256), [7.0])
