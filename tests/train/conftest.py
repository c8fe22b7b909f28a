"""A tiny model implementing the GenerativeModel protocol, for engine unit tests."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest


class _Net(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(x.shape[-1])(nn.tanh(nn.Dense(8)(x)))


class TinyRegressor:
    """Denoising regressor: loss = mean squared error of reconstructing x from x + noise."""

    def __init__(self):
        self.net = _Net()

    def init(self, key, batch):
        return self.net.init(key, batch["x"])

    def loss(self, variables, batch, key, *, train):
        noisy = batch["x"] + 0.1 * jax.random.normal(key, batch["x"].shape)
        err = jnp.mean((self.net.apply(variables, noisy) - batch["x"]) ** 2)
        return err, ({"mse": err}, {})

    def sample(self, variables, key, num, label=None):
        return self.net.apply(variables, jax.random.normal(key, (num, 4)))

    def evaluate(self, variables, batch, key):
        return {"mse": jnp.mean((self.net.apply(variables, batch["x"]) - batch["x"]) ** 2, -1)}


def identity_preprocess(batch, key):
    del key
    return {"x": batch["x"].astype(jnp.float32)}


@pytest.fixture
def tiny_model():
    return TinyRegressor()
