"""The model registry and the typed configs."""

import dataclasses

import jax
import jax.numpy as jnp
import pytest

from gen_jax import config as config_lib
from gen_jax.data._types import DatasetInfo
from gen_jax.models import FAMILIES, AutoencoderConfig, GenerativeModel, Sampling, VAEConfig

MNIST = DatasetInfo("mnist", (28, 28, 1), 10, 256)


def test_registry_has_the_autoencoder_families():
    assert FAMILIES["ae"].config is AutoencoderConfig
    assert FAMILIES["vae"].config is VAEConfig


@pytest.mark.parametrize("name", ["ae", "vae"])
def test_builders_return_models_with_the_protocol(name):
    family = FAMILIES[name]
    model = family.build(family.config(), MNIST, dtype=jnp.float32)
    assert isinstance(model, GenerativeModel)
    assert isinstance(model, Sampling) == (name == "vae")  # the autoencoder has no prior
    variables = jax.eval_shape(model.init, jax.random.key(0), {"x": jnp.zeros((2, 28, 28, 1))})
    assert set(variables) == {"params"}


def test_defaults_are_the_iwae_paper_mnist_vae():
    cfg = VAEConfig()
    assert (cfg.arch, cfg.hidden, cfg.latent_dim, cfg.activation, cfg.likelihood) == (
        "mlp", (200, 200), 50, "tanh", "bernoulli")
    assert (cfg.objective, cfg.num_samples, cfg.beta, cfg.conditional) == ("elbo", 1, 1.0, False)
    model = FAMILIES["vae"].build(cfg, MNIST)
    variables = jax.eval_shape(model.init, jax.random.key(0), {"x": jnp.zeros((2, 28, 28, 1))})
    params = variables["params"]
    assert params["encoder"]["MLP_0"]["Dense_0"]["kernel"].shape == (784, 200)
    assert params["encoder"]["MLP_0"]["Dense_2"]["kernel"].shape == (200, 100)  # mean, log-var
    assert params["decoder"]["MLP_0"]["Dense_2"]["kernel"].shape == (200, 784)


@pytest.mark.parametrize("cls", [AutoencoderConfig, VAEConfig])
def test_configs_are_frozen_and_round_trip_through_dicts(cls):
    cfg = cls(hidden=(64, 32), arch="conv", channels=(8, 16))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.latent_dim = 3
    assert config_lib.from_dict(cls, config_lib.to_dict(cfg)) == cfg


def test_build_by_name_and_name_of():
    from gen_jax.models import VAE, Autoencoder, build, name_of

    assert isinstance(build("vae", VAEConfig(), MNIST), VAE)
    assert isinstance(build("ae", AutoencoderConfig(), MNIST), Autoencoder)
    assert name_of(VAEConfig(beta=2.0)) == "vae" and name_of(AutoencoderConfig()) == "ae"
    with pytest.raises(ValueError, match="unknown model 'pixelcnn'"):
        build("pixelcnn", VAEConfig(), MNIST)
    with pytest.raises(ValueError, match="model 'gan' takes a GANConfig"):
        build("gan", VAEConfig(), MNIST)
    with pytest.raises(ValueError, match="takes a VAEConfig"):
        build("vae", AutoencoderConfig(), MNIST)
    with pytest.raises(ValueError, match="no registered model"):
        name_of(object())
