"""Which likelihood bounds convert to bits/dim of the discrete data."""

from types import SimpleNamespace

import pytest

from gen_jax import data, models
from gen_jax.config import DataConfig
from gen_jax.evaluation import bits_per_dim_meaningful


def _run(name, likelihood, **data_settings):
    config = models.VAEConfig(likelihood=likelihood)
    return SimpleNamespace(info=data.info(name), model=models.build("vae", config, data.info(name)),
                           config=SimpleNamespace(model=config,
                                                  data=DataConfig(name=name, **data_settings)))


@pytest.mark.parametrize("name, likelihood, settings, meaningful", [
    ("binarized_mnist", "bernoulli", {}, True),  # binary data: a probability of it
    ("mnist", "bernoulli", {"binarize": True}, True),  # of the binarized pixels
    ("digits", "bernoulli", {}, False),  # grey levels: not normalized over them
    ("binarized_mnist", "bernoulli", {"dequantize": True}, False),  # values in [0, 1)
    ("mnist", "logistic", {}, True),  # a discretized logistic over the 256 levels
    ("two_moons", "gaussian", {}, False),  # a density of continuous data
])
def test_bits_per_dim_only_for_a_probability_of_the_discrete_data(name, likelihood, settings,
                                                                   meaningful):
    assert bits_per_dim_meaningful(_run(name, likelihood, **settings)) is meaningful
