"""What the diffusion and flow-matching tests share: a continuous-time model trained on a
correlated 2-d Gaussian whose entropy, mean and covariance are known."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax import models
from gen_jax.data import DatasetInfo

COV = np.array([[2.0, 0.8], [0.8, 0.5]])
MEAN = np.array([1.0, -2.0])
ENTROPY = 0.5 * math.log(np.linalg.det(2 * math.pi * math.e * COV))


def check_trained_on_a_gaussian(family: str, config, steps: int) -> None:
    """Trains ``family`` (Adam 2e-3, batch 256, ``steps`` steps) on 20,000 draws; asserts the
    held-out ODE NLL of 1,000 draws lies within 0.05 nats of the entropy and that 10,000
    samples of the config's sampler reproduce the mean and covariance."""
    rng = np.random.default_rng(0)
    train = jnp.asarray(rng.multivariate_normal(MEAN, COV, 20_000), jnp.float32)
    test = jnp.asarray(rng.multivariate_normal(MEAN, COV, 1000), jnp.float32)
    model = models.build(family, config, DatasetInfo("g", (2,), 0, None))
    assert isinstance(model, models.ExactLikelihood)
    params = model.init(jax.random.PRNGKey(0), {"x": train[:2]})["params"]
    tx = optax.adam(2e-3)

    @jax.jit
    def step(params, opt, idx, key):
        grads = jax.grad(lambda p: model.loss({"params": p}, {"x": train[idx]}, key)[0])(params)
        updates, opt = tx.update(grads, opt, params)
        return optax.apply_updates(params, updates), opt

    opt = tx.init(params)
    for k, idx in enumerate(np.random.default_rng(1).integers(0, len(train), (steps, 256))):
        params, opt = step(params, opt, idx, jax.random.PRNGKey(k))
    nll = -float(jnp.mean(jax.jit(model.log_prob)({"params": params}, test)))
    assert abs(nll - ENTROPY) < 0.05, (nll, ENTROPY)
    samples = np.asarray(jax.jit(model.sample, static_argnums=2)(
        {"params": params}, jax.random.PRNGKey(3), 10_000))
    np.testing.assert_allclose(samples.mean(0), MEAN, atol=0.1)
    np.testing.assert_allclose(np.cov(samples.T), COV, atol=0.15)
