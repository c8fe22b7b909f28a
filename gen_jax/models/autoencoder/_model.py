"""Deterministic autoencoders trained by the negative log-likelihood of their reconstruction.

Bernoulli gives the binary cross-entropy, a fixed-scale Gaussian a scaled squared error, the
discretized logistic a bin probability. There is no prior, hence no sampling: use
:meth:`Autoencoder.reconstruct`, or a VAE to generate.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import chex
import jax
import jax.numpy as jnp

from ...data import DatasetInfo
from .._base import Batch, Metrics, Variables
from .._coders import CoderConfig, CoderModel, CoderNet
from .._likelihoods import sum_event

Dtype = Any


@dataclasses.dataclass(frozen=True)
class AutoencoderConfig(CoderConfig):
    """A deterministic autoencoder: the shared network and likelihood settings (MNIST defaults:
    MLP 784-200-200-50, tanh, Bernoulli cross-entropy)."""


class AutoencoderNet(CoderNet):
    """Encoder to a code ``[B, latent_dim]`` and decoder to ``p(x | code)``'s parameters (the
    attributes of :class:`CoderNet`)."""

    def encode(self, x: jax.Array, label: jax.Array | None) -> jax.Array:
        """``x`` ``[B, *shape]`` -> code ``[B, latent_dim]``."""
        return self.encoder_features(x, label)

    def __call__(self, x: jax.Array, label: jax.Array | None = None):
        return self.decode(self.encode(x, label), label)


class NoPriorError(AttributeError, ValueError):
    """Asked a family without a prior to sample. An ``AttributeError``, so the family does not
    pass for :class:`~gen_jax.models.Sampling`; a ``ValueError`` like the toolkit's other
    one-line errors."""


class Autoencoder(CoderModel):
    """The autoencoder family bound to a config and a data set: a ``GenerativeModel`` with
    :class:`~gen_jax.models.Reconstruction` and no prior to sample from (the engine shows
    reconstructions where it would show samples).

    Attributes:
      config: the :class:`AutoencoderConfig`.
      info: the data's :class:`~gen_jax.data.DatasetInfo`.
      net: the :class:`AutoencoderNet`.
      num_classes: the classes it is conditioned on (0: unconditional).
    """

    net_class = AutoencoderNet
    family = "ae"

    def _nll_and_mean(self, variables, x, label):
        loc, log_scale = self.net.apply(variables, x, label)
        nll = -self.net.likelihood.log_prob(loc, log_scale, x)
        return nll, self._output(self.net.likelihood.mean(loc, log_scale))

    def _output(self, mean: jax.Array) -> jax.Array:
        return jnp.clip(mean, 0.0, 1.0) if self.info.num_levels is not None else mean

    def _recon_error(self, recon: jax.Array, x: jax.Array) -> jax.Array:
        return sum_event((recon - x) ** 2) / math.prod(self.net.shape)

    def loss(
        self, variables: Variables, batch: Batch, key: jax.Array, *, train: bool = True
    ) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """Mean negative log-likelihood of the reconstruction (``key`` is unused)."""
        del key, train
        x = batch["x"]
        nll, recon = self._nll_and_mean(variables, x, self._inputs(x, batch.get("label")))
        metrics = {"nll": jnp.mean(nll), "recon_error": jnp.mean(self._recon_error(recon, x))}
        return jnp.mean(nll), (metrics, {})

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per-example ``nll`` and ``recon_error`` (squared error of the reconstruction mean,
        averaged over dimensions)."""
        del key
        x = batch["x"]
        nll, recon = self._nll_and_mean(variables, x, self._inputs(x, batch.get("label")))
        return {"nll": nll, "recon_error": self._recon_error(recon, x)}

    def encode(
        self, variables: Variables, x: jax.Array, label: jax.Array | None = None
    ) -> jax.Array:
        """The code ``[B, latent_dim]``."""
        return self.net.apply(variables, x, self._inputs(x, label),
                              method=AutoencoderNet.encode)

    def decode(
        self, variables: Variables, z: jax.Array, label: jax.Array | None = None
    ) -> jax.Array:
        """The mean of ``p(x | z)`` for codes ``z`` ``[N, latent_dim]``: ``[N, *shape]``."""
        chex.assert_shape(z, (None, self.config.latent_dim))
        loc, log_scale = self.net.apply(variables, z, label if self.net.num_classes else None,
                                        method=AutoencoderNet.decode)
        return self._output(self.net.likelihood.mean(loc, log_scale))

    def to_latent(
        self, variables: Variables, x: jax.Array, label: jax.Array | None = None
    ) -> jax.Array:
        """:meth:`encode`: the code ``[B, latent_dim]``."""
        return self.encode(variables, x, label)

    def from_latent(
        self, variables: Variables, z: jax.Array, label: jax.Array | None = None
    ) -> jax.Array:
        """:meth:`decode`: the mean of ``p(x | z)``."""
        return self.decode(variables, z, label)

    def reconstruct(
        self, variables: Variables, x: jax.Array, label: jax.Array | None = None
    ) -> jax.Array:
        """The mean of ``p(x | encode(x))``: ``[B, *shape]``."""
        return self._nll_and_mean(variables, x, self._inputs(x, label))[1]

    def __getattr__(self, name: str):
        if name == "sample":  # the one-line answer for a user who tries
            raise NoPriorError("a deterministic autoencoder has no prior to sample from; use "
                               "reconstruct(variables, x) instead, or train a VAE to generate")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """Per-example reconstruction error ``[B]`` (``recon_error`` of :meth:`evaluate`)."""
        return self.evaluate(variables, batch, key)["recon_error"]


def build(
    config: AutoencoderConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32
) -> Autoencoder:
    """An :class:`Autoencoder` for ``info``'s data (validates the config; one-line
    ``ValueError``)."""
    return Autoencoder(config, info, dtype=dtype)
