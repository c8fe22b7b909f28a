"""The family registry: one record per model family, the one way to build a model by name.

A family is registered with one :class:`Family` record (in :data:`FAMILIES` below, or from a
package of your own with :func:`register`). Its builder is named as ``"module:function"`` and
imported on first use, so a family's heavy dependencies (distrax and TFP for the flows) load
only when that family is built.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any, Literal

import jax.numpy as jnp

from ..data import DatasetInfo
from ._base import GenerativeModel
from .autoencoder import AutoencoderConfig
from .charrnn import CharRNNConfig
from .diffusion import DiffusionConfig
from .flow_matching import FlowMatchingConfig
from .flows import GlowConfig, MAFConfig, NSFConfig, RealNVPConfig
from .gan import GANConfig
from .m2 import M1M2Config, M2Config
from .molvae import MolVAEConfig
from .ppca import PPCAConfig
from .ssl_gan import SSLGANConfig
from .transformer_lm import TransformerLMConfig
from .translation import CycleGANConfig, Pix2PixConfig
from .vae import VAEConfig

Builder = Callable[..., GenerativeModel]
"""``build(config, info, *, dtype=jnp.float32) -> GenerativeModel``."""


@dataclasses.dataclass(frozen=True)
class Family:
    """One model family as the engine, the command line and the tests see it.

    Attributes:
      name: the name on the command line (``gen-jax train NAME``) and in run records.
      config: the family's frozen config dataclass (``--model.*`` settings).
      builder: ``"module:function"``, the function ``(config, info, *, dtype) -> model``;
        imported on first use.
      summary: one line for ``gen-jax train --help`` and the docs.
      tiny: a small config of this family (a few units per layer) for the conformance test
        and the docs' examples; it must suit scikit-learn's 8x8 digits.
      translates: None for a model of one domain; ``"paired"`` or ``"unpaired"`` for a
        :class:`~gen_jax.models.Translation` family, built only for data with a target
        domain (``data.target``), which must correspond example for example
        (``data.paired``) for ``"paired"``.
    """

    name: str
    config: type
    builder: str
    summary: str
    tiny: Callable[[], Any]
    translates: Literal["paired", "unpaired"] | None = None

    def build(self, config: Any, info: DatasetInfo, *, dtype: Any = jnp.float32
              ) -> GenerativeModel:
        """The model for ``info``'s data (the builder's one-line ``ValueError`` on a config
        that does not fit the data)."""
        module, _, function = self.builder.partition(":")
        return getattr(importlib.import_module(module), function)(config, info, dtype=dtype)


FAMILIES: dict[str, Family] = {}
"""Family name -> record, in registration order."""


def register(family: Family) -> Family:
    """Adds ``family`` to :data:`FAMILIES` (and so to ``gen-jax train``, ``sample``, ``eval``).

    Raises:
      ValueError: the name, or the config class, is taken by another family.
    """
    if family.name in FAMILIES:
        raise ValueError(f"a model family named {family.name!r} is already registered")
    for other in FAMILIES.values():
        if other.config is family.config:
            raise ValueError(f"{family.config.__name__} is already the config of family "
                             f"{other.name!r}; give {family.name!r} a config class of its own")
    FAMILIES[family.name] = family
    return family


_M = "gen_jax.models."
register(Family("ae", AutoencoderConfig, _M + "autoencoder:build",
                "deterministic autoencoder (reconstructions, no sampling)",
                lambda: AutoencoderConfig(hidden=(8,), latent_dim=2)))
register(Family("vae", VAEConfig, _M + "vae:build",
                "variational autoencoder (ELBO, beta-VAE, IWAE)",
                lambda: VAEConfig(hidden=(8,), latent_dim=2)))
register(Family("gan", GANConfig, _M + "gan:build",
                "generative adversarial network with the known stabilizers",
                lambda: GANConfig(latent_dim=2, g_hidden=(8,), d_hidden=(8,))))
register(Family("realnvp", RealNVPConfig, _M + "flows:build", "RealNVP affine-coupling flow",
                lambda: RealNVPConfig(num_layers=2, hidden=(8,))))
register(Family("nsf", NSFConfig, _M + "flows:build", "neural spline flow (rational quadratic)",
                lambda: NSFConfig(num_layers=2, hidden=(8,))))
register(Family("maf", MAFConfig, _M + "flows:build", "masked autoregressive flow",
                lambda: MAFConfig(num_layers=2, hidden=(64,))))
register(Family("glow", GlowConfig, _M + "flows:build", "Glow multi-scale image flow",
                lambda: GlowConfig(num_layers=1, hidden=(8,), num_levels=2, init_examples=8)))

register(Family("m2", M2Config, _M + "m2:build",
                "semi-supervised VAE of Kingma et al. 2014 (M2: classifier, labels as latents)",
                lambda: M2Config(hidden=(8,), classifier_hidden=(8,), latent_dim=2)))
register(Family("m1m2", M1M2Config, _M + "m2:build_stacked",
                "M2 on the codes of a VAE (Kingma et al. 2014's M1+M2), trained in two phases",
                lambda: M1M2Config(hidden=(8,), classifier_hidden=(8,), latent_dim=2,
                                   m1_hidden=(8,), m1_latent_dim=3, m1_steps=1)))
register(Family("ssl_gan", SSLGANConfig, _M + "ssl_gan:build",
                "semi-supervised GAN classifier with feature matching (Salimans et al. 2016)",
                lambda: SSLGANConfig(latent_dim=2, g_hidden=(8,), d_hidden=(8,), init_examples=8)))
register(Family("pix2pix", Pix2PixConfig, _M + "translation:build_pix2pix",
                "paired image-to-image translation (U-Net, PatchGAN, cGAN + L1; Isola et al. 2017)",
                lambda: Pix2PixConfig(g_features=4, depth=2, d_features=4, d_layers=1),
                translates="paired"))
register(Family("cyclegan", CycleGANConfig, _M + "translation:build_cyclegan",
                "unpaired image-to-image translation (cycle consistency; Zhu et al. 2017)",
                lambda: CycleGANConfig(generator="unet", g_features=4, depth=1, d_features=4,
                                       d_layers=1, history=4),
                translates="unpaired"))
register(Family("ppca", PPCAConfig, _M + "ppca:build", "probabilistic PCA (exact likelihood)",
                lambda: PPCAConfig(latent_dim=2)))
register(Family("diffusion", DiffusionConfig, _M + "diffusion:build",
                "diffusion model (DDPM, score SDEs, EDM; DDIM, Heun, DPM-Solver++ samplers)",
                lambda: DiffusionConfig(arch="mlp", hidden=(16,), schedule="cosine",
                                        num_timesteps=20, steps=4)))
register(Family("flow_matching", FlowMatchingConfig, _M + "flow_matching:build",
                "conditional flow matching (rectified and OT paths, minibatch OT coupling)",
                lambda: FlowMatchingConfig(arch="mlp", hidden=(16,), coupling="ot", steps=4)))
register(Family("charrnn", CharRNNConfig, _M + "charrnn:build",
                "autoregressive LSTM/GRU language model of token sequences (MOSES's CharRNN)",
                lambda: CharRNNConfig(hidden=8, num_layers=2)))
register(Family("transformer_lm", TransformerLMConfig, _M + "transformer_lm:build",
                "decoder-only Transformer language model of token sequences",
                lambda: TransformerLMConfig(num_layers=1, d_model=8, num_heads=2, mlp_dim=16)))
register(Family("molvae", MolVAEConfig, _M + "molvae:build",
                "sequence VAE of token sequences (MOSES's SMILES VAE, KL annealing, free bits)",
                lambda: MolVAEConfig(embed_dim=4, encoder_hidden=6, latent_dim=2,
                                     decoder_hidden=8, decoder_layers=2, kl_anneal_steps=4)))


def build(
    name: str, config: Any, info: DatasetInfo, *, dtype: Any = jnp.float32
) -> GenerativeModel:
    """The family ``name`` built from ``config`` for ``info``'s data.

    Raises:
      ValueError: unknown family, a config of another family, or a config that does not fit
        the data.
    """
    if name not in FAMILIES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(FAMILIES))}")
    family = FAMILIES[name]
    if type(config) is not family.config:
        raise ValueError(f"model {name!r} takes a {family.config.__name__}, got "
                         f"{type(config).__name__}")
    return family.build(config, info, dtype=dtype)


def name_of(config: Any) -> str:
    """The registry name of the family whose config class ``config`` is an instance of.

    Raises:
      ValueError: no registered family uses this config class.
    """
    for name, family in FAMILIES.items():
        if type(config) is family.config:
            return name
    raise ValueError(f"no registered model takes a {type(config).__name__}; registered: "
                     f"{', '.join(sorted(FAMILIES))}")
