"""Variational autoencoders: Gaussian posterior, standard normal prior, ELBO / beta / IWAE.

The objectives are pure functions of ``(net, variables, x, label, key)``; :class:`VAE` binds them
to a config and a data set as a :class:`~gen_jax.models.GenerativeModel`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal, NamedTuple

import chex
import jax
import jax.numpy as jnp

from ...config import DataConfig
from ...data import DatasetInfo
from ...nn import output_dtype
from .._base import Batch, Metrics, Variables
from .._coders import (
    CoderConfig,
    CoderModel,
    CoderNet,
)
from .._likelihoods import sum_event

Dtype = Any
_LOG_2PI = math.log(2.0 * math.pi)


@dataclasses.dataclass(frozen=True)
class VAEConfig(CoderConfig):
    """A VAE: the shared network settings plus the objective.

    The defaults are the IWAE paper's MNIST VAE (784-200-200-50, tanh, Bernoulli, k = 1).
    """

    beta: float = 1.0
    """Weight of the KL term (beta-VAE; elbo objective only)."""
    objective: Literal["elbo", "iwae"] = "elbo"
    """elbo: reconstruction averaged over num_samples draws, analytic KL; iwae: the importance
    weighted bound with num_samples draws."""
    num_samples: int = 1
    """Posterior samples per example in the training objective (IWAE's k)."""


class VAENet(CoderNet):
    """Encoder to ``(mean, log_var)`` of ``q(z | x)`` and decoder to ``p(x | z)``'s parameters
    (the attributes of :class:`CoderNet`)."""

    code_factor = 2

    def encode(self, x: jax.Array, label: jax.Array | None) -> tuple[jax.Array, jax.Array]:
        """``x`` ``[B, *shape]`` -> posterior ``(mean, log_var)``, each ``[B, latent]``."""
        mean, log_var = jnp.split(self.encoder_features(x, label), 2, axis=-1)
        return mean, log_var

    def __call__(self, x: jax.Array, label: jax.Array | None = None):
        mean, _ = self.encode(x, label)
        return self.decode(mean, label)


def gaussian_kl(mean: jax.Array, log_var: jax.Array) -> jax.Array:
    """``KL(N(mean, exp(log_var)) || N(0, I))`` per example: ``[B, latent] -> [B]``."""
    return 0.5 * jnp.sum(mean**2 + jnp.exp(log_var) - 1.0 - log_var, axis=-1)


class ElboTerms(NamedTuple):
    """Per-example ``[B]`` terms of the (beta-weighted) evidence lower bound.

    Attributes:
      objective: ``-recon_nll - beta * kl``, the quantity a beta-VAE maximizes.
      elbo: ``-recon_nll - kl``, the evidence lower bound itself.
      recon_nll: ``-E_q[log p(x | z)]``, estimated with the drawn samples.
      kl: ``KL(q(z | x) || p(z))``, analytic.
    """

    objective: jax.Array
    elbo: jax.Array
    recon_nll: jax.Array
    kl: jax.Array


def _encode(net, variables, x, label):
    """Posterior ``(mean, log_var)``, each ``[B, latent]``, with their ranks asserted."""
    mean, log_var = net.apply(variables, x, label, method=VAENet.encode)
    chex.assert_rank([mean, log_var], 2)
    chex.assert_equal_shape([mean, log_var])
    return mean, log_var


def _log_likelihood(net, variables, x, label, z):
    """``log p(x | z)`` for ``z`` ``[k, B, latent]`` -> ``[k, B]``, decoding all k*B at once."""
    k, batch, latent = z.shape
    flat_label = None if label is None else jnp.tile(label, k)
    loc, log_scale = net.apply(variables, z.reshape(k * batch, latent), flat_label,
                               method=VAENet.decode)
    loc = loc.reshape(k, batch, *x.shape[1:])
    if log_scale is not None:
        log_scale = log_scale.reshape(loc.shape)
    return net.likelihood.log_prob(loc, log_scale, x[None], event_ndim=x.ndim - 1)


def elbo(
    net: VAENet,
    variables: Variables,
    x: jax.Array,
    label: jax.Array | None,
    key: jax.Array,
    *,
    beta: float = 1.0,
    num_samples: int = 1,
) -> ElboTerms:
    """The ELBO with reparameterized samples and analytic KL, per example.

    Args:
      net: the VAE network.
      variables: its Flax variables.
      x: ``[B, *shape]`` float data.
      label: ``[B]`` int labels (required by conditional nets, else ignored: pass None).
      key: PRNG key for the posterior samples.
      beta: weight of the KL in ``objective``.
      num_samples: posterior samples averaged in the reconstruction term.

    Returns:
      :class:`ElboTerms`, each ``[B]``.
    """
    mean, log_var = _encode(net, variables, x, label)
    eps = jax.random.normal(key, (num_samples, *mean.shape), mean.dtype)
    z = mean + jnp.exp(0.5 * log_var) * eps  # [k, B, latent]
    recon_nll = -jnp.mean(_log_likelihood(net, variables, x, label, z), axis=0)
    kl = gaussian_kl(mean, log_var)
    return ElboTerms(objective=-recon_nll - beta * kl, elbo=-recon_nll - kl,
                     recon_nll=recon_nll, kl=kl)


def log_importance_weights(
    net: VAENet,
    variables: Variables,
    x: jax.Array,
    label: jax.Array | None,
    key: jax.Array,
    num_samples: int,
) -> jax.Array:
    """``log p(x, z_k) - log q(z_k | x)`` for ``num_samples`` draws ``z_k ~ q(z | x)``.

    Returns:
      ``[num_samples, B]`` log importance weights.
    """
    mean, log_var = _encode(net, variables, x, label)
    eps = jax.random.normal(key, (num_samples, *mean.shape), mean.dtype)
    z = mean + jnp.exp(0.5 * log_var) * eps  # [k, B, latent]
    log_q = -0.5 * jnp.sum(eps**2 + log_var + _LOG_2PI, axis=-1)
    log_prior = -0.5 * jnp.sum(z**2 + _LOG_2PI, axis=-1)
    return _log_likelihood(net, variables, x, label, z) + log_prior - log_q


def iwae_bound(
    net: VAENet,
    variables: Variables,
    x: jax.Array,
    label: jax.Array | None,
    key: jax.Array,
    num_samples: int,
) -> jax.Array:
    """The importance weighted bound ``logsumexp_k(log w_k) - log k`` per example (``[B]``).

    Burda et al. (2016); equals the (MC-KL) ELBO for ``k = 1`` and tends to ``log p(x)`` as
    ``k`` grows.
    """
    log_w = log_importance_weights(net, variables, x, label, key, num_samples)
    return jax.nn.logsumexp(log_w, axis=0) - math.log(num_samples)


class VAE(CoderModel):
    """The VAE family bound to a config and a data set (a ``GenerativeModel``).

    Attributes:
      config: the :class:`VAEConfig`.
      info: the data's :class:`~gen_jax.data.DatasetInfo`.
      net: the :class:`VAENet`.
      num_classes: the classes it is conditioned on (0: unconditional).
    """

    net_class = VAENet
    family = "vae"

    def _check(self, config: VAEConfig) -> None:
        if config.objective not in ("elbo", "iwae"):
            raise ValueError(f"vae: unknown objective {config.objective!r}; use elbo or iwae")
        if config.num_samples < 1:
            raise ValueError(f"vae: num_samples must be >= 1, got {config.num_samples}")
        if config.beta < 0:
            raise ValueError(f"vae: beta must be >= 0, got {config.beta}")
        if config.objective == "iwae" and config.beta != 1.0:
            raise ValueError("vae: beta weights the KL of the elbo objective; set beta=1.0 with "
                             "objective='iwae'")

    def loss(
        self, variables: Variables, batch: Batch, key: jax.Array, *, train: bool = True
    ) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """Negative objective (ELBO, beta-ELBO or IWAE bound), averaged over the batch."""
        del train  # no dropout or batch statistics
        x = batch["x"]
        label = self._inputs(x, batch.get("label"))
        cfg = self.config
        if cfg.objective == "iwae":
            log_w = log_importance_weights(self.net, variables, x, label, key, cfg.num_samples)
            bound = jax.nn.logsumexp(log_w, axis=0) - math.log(cfg.num_samples)
            metrics = {"iwae_bound": jnp.mean(bound), "elbo": jnp.mean(log_w)}
            return -jnp.mean(bound), (metrics, {})
        terms = elbo(self.net, variables, x, label, key, beta=cfg.beta,
                     num_samples=cfg.num_samples)
        metrics = {"elbo": jnp.mean(terms.elbo), "kl": jnp.mean(terms.kl),
                   "recon_nll": jnp.mean(terms.recon_nll)}
        return -jnp.mean(terms.objective), (metrics, {})

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per-example ``elbo``, ``kl``, ``recon_nll`` (one sample), ``recon_error`` (squared
        error of the reconstruction from the posterior mean, averaged over dimensions), and
        ``iwae_bound`` with ``num_samples`` draws when the objective is iwae."""
        x = batch["x"]
        label = self._inputs(x, batch.get("label"))
        key_elbo, key_iwae = jax.random.split(key)
        terms = elbo(self.net, variables, x, label, key_elbo)
        recon = self.reconstruct(variables, x, label)
        out = {"elbo": terms.elbo, "kl": terms.kl, "recon_nll": terms.recon_nll,
               "recon_error": sum_event((recon - x) ** 2) / math.prod(self.net.shape)}
        if self.config.objective == "iwae":
            out["iwae_bound"] = iwae_bound(self.net, variables, x, label, key_iwae,
                                           self.config.num_samples)
        return out

    def encode(
        self, variables: Variables, x: jax.Array, label: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        """Posterior ``(mean, log_var)``, each ``[B, latent_dim]``."""
        return _encode(self.net, variables, x, self._inputs(x, label))

    def decode(
        self, variables: Variables, z: jax.Array, label: jax.Array | None = None
    ) -> jax.Array:
        """The mean of ``p(x | z)`` for ``z`` ``[N, latent_dim]``: ``[N, *shape]``."""
        chex.assert_shape(z, (None, self.config.latent_dim))
        loc, log_scale = self.net.apply(variables, z, label if self.net.num_classes else None,
                                        method=VAENet.decode)
        out = self.net.likelihood.mean(loc, log_scale)
        return jnp.clip(out, 0.0, 1.0) if self.info.num_levels is not None else out

    def reconstruct(
        self, variables: Variables, x: jax.Array, label: jax.Array | None = None
    ) -> jax.Array:
        """The decoder's mean at the posterior mean: ``[B, *shape]``."""
        return self.decode(variables, self.to_latent(variables, x, label), label)

    def to_latent(
        self, variables: Variables, x: jax.Array, label: jax.Array | None = None
    ) -> jax.Array:
        """The posterior mean ``[B, latent_dim]``."""
        return self.encode(variables, x, label)[0]

    def from_latent(
        self, variables: Variables, z: jax.Array, label: jax.Array | None = None
    ) -> jax.Array:
        """:meth:`decode`: the mean of ``p(x | z)``."""
        return self.decode(variables, z, label)

    def sample(
        self, variables: Variables, key: jax.Array, num: int, label: jax.Array | None = None
    ) -> jax.Array:
        """Decoder means at ``num`` prior draws: ``[num, *shape]``.

        A conditional model without ``label`` cycles through the classes (``arange(num) % C``).
        """
        z = jax.random.normal(key, (num, self.config.latent_dim), output_dtype(self.net.dtype))
        if self.net.num_classes and label is None:
            label = jnp.arange(num, dtype=jnp.int32) % self.net.num_classes
        return self.decode(variables, z, label)

    def log_importance_weights(
        self,
        variables: Variables,
        x: jax.Array,
        key: jax.Array,
        num_samples: int,
        label: jax.Array | None = None,
    ) -> jax.Array:
        """``[num_samples, B]`` log importance weights (see :func:`log_importance_weights`)."""
        label = self._inputs(x, label)
        return log_importance_weights(self.net, variables, x, label, key, num_samples)

    def bound_in_bits(self, data: DataConfig) -> bool:
        """Whether the ELBO is a bound on a probability of the discrete data as ``data``
        presents it, so that it converts to bits per dimension.

        True for a Bernoulli likelihood of binary (or binarized) data and a discretized
        logistic of discrete data; False for a Gaussian density, or a Bernoulli "likelihood" of
        grey levels or of dequantized values (not normalized over them).
        """
        name, info = self.config.likelihood, self.info
        if name == "logistic":
            return info.is_discrete
        if name == "bernoulli":
            return not data.dequantize and (bool(data.binarize) or info.num_levels == 2)
        return False

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """Per-example negative ELBO ``[B]`` (nats; one posterior sample)."""
        x = batch["x"]
        return -elbo(self.net, variables, x, self._inputs(x, batch.get("label")), key).elbo


def build(config: VAEConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32) -> VAE:
    """A :class:`VAE` for ``info``'s data (validates the config; one-line ``ValueError``)."""
    return VAE(config, info, dtype=dtype)
