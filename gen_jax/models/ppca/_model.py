"""Probabilistic PCA (Tipping & Bishop 1999): the smallest family with an exact likelihood.

``z ~ N(0, I_k)``, ``x = W z + mu + eps`` with ``eps ~ N(0, sigma^2 I_D)``, so that
``x ~ N(mu, C)`` with ``C = W W^T + sigma^2 I``. The log-density uses the ``k x k`` matrix
``M = W^T W + sigma^2 I`` (matrix determinant lemma and Woodbury), so a step costs
``O(B D k + k^3)``, not ``O(D^3)``:

``log|C| = (D - k) log sigma^2 + log|M|``,
``(x - mu)^T C^{-1} (x - mu) = (|r|^2 - |L^{-1} W^T r|^2) / sigma^2`` with ``M = L L^T``.

It is the worked example of ``docs/extending.md``: one module and one registry line, and the
engine gives it training, checkpoints, sampling, evaluation and the command line.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from ...config import DataConfig
from ...data import DatasetInfo
from ...nn import output_dtype
from .._base import Batch, Metrics, Variables
from .._coders import check_inputs
from .._likelihoods import density_nll_metrics

Dtype = Any


@dataclasses.dataclass(frozen=True)
class PPCAConfig:
    """Probabilistic PCA's settings."""

    latent_dim: int = 16
    """k, the number of principal directions (at most the data's dimension)."""
    init_log_sigma: float = -1.0
    """Initial log of the noise standard deviation sigma."""


class PPCA:
    """Probabilistic PCA bound to a config and a data set.

    Capabilities: :class:`~gen_jax.models.Sampling`,
    :class:`~gen_jax.models.TemperatureSampling`, :class:`~gen_jax.models.ExactLikelihood`,
    :class:`~gen_jax.models.Reconstruction` (the posterior mean's projection) and
    :class:`~gen_jax.models.DataRequirements` (discrete data is dequantized: the density is of
    continuous values).

    Parameters: ``{"w": [D, k], "mu": [D], "log_sigma": []}``.
    """

    def __init__(self, config: PPCAConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32):
        if not 1 <= config.latent_dim <= info.dim:
            raise ValueError(f"ppca: latent_dim must be in [1, {info.dim}] (the data's "
                             f"dimension), got {config.latent_dim}")
        self.config, self.info, self.dtype = config, info, output_dtype(dtype)
        self.num_classes = 0  # unconditional

    # ----- the core contract ---------------------------------------------------------------

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """``W`` with small random entries, ``mu`` at the batch mean, ``sigma`` as configured."""
        check_inputs(batch["x"], None, tuple(self.info.shape), 0)
        dim, k = self.info.dim, self.config.latent_dim
        x = batch["x"].reshape(batch["x"].shape[0], dim).astype(self.dtype)
        return {"params": {
            "w": 0.01 * jax.random.normal(key, (dim, k), self.dtype),
            "mu": jnp.mean(x, axis=0),
            "log_sigma": jnp.asarray(self.config.init_log_sigma, self.dtype),
        }}

    def log_prob(self, variables: Variables, x: jax.Array,
                 label: jax.Array | None = None) -> jax.Array:
        """``log N(x; mu, W W^T + sigma^2 I)`` ``[B]`` (a density on the ``[0, 1)`` scale for
        dequantized discrete data)."""
        del label
        check_inputs(x, None, tuple(self.info.shape), 0)
        p = variables["params"]
        w, mu, log_sigma = p["w"], p["mu"], p["log_sigma"]
        dim, k = w.shape
        var = jnp.exp(2.0 * log_sigma)
        r = x.reshape(x.shape[0], dim).astype(w.dtype) - mu  # [B, D]
        chol = jnp.linalg.cholesky(w.T @ w + var * jnp.eye(k, dtype=w.dtype))  # M = L L^T
        proj = solve_triangular(chol, (r @ w).T, lower=True)  # L^{-1} W^T r: [k, B]
        mahalanobis = (jnp.sum(r**2, axis=1) - jnp.sum(proj**2, axis=0)) / var
        log_det = (dim - k) * 2.0 * log_sigma + 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
        return -0.5 * (mahalanobis + log_det + dim * math.log(2.0 * math.pi))

    def _nll_metrics(self, log_p: jax.Array) -> Metrics:
        """Per-example ``nll`` and, for discrete data, ``bpd`` (:func:`density_nll_metrics`)."""
        return density_nll_metrics(log_p, self.info)

    def loss(self, variables: Variables, batch: Batch, key: jax.Array, *,
             train: bool = True) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """Mean negative log-likelihood (nats per example; ``key`` is unused)."""
        del key, train
        log_p = self.log_prob(variables, batch["x"])
        metrics = {k: jnp.mean(v) for k, v in self._nll_metrics(log_p).items()}
        metrics["sigma"] = jnp.exp(variables["params"]["log_sigma"])
        return -jnp.mean(log_p), (metrics, {})

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per-example ``nll`` (nats), ``bpd`` (discrete data) and ``recon_error`` (squared
        error of :meth:`reconstruct`, averaged over dimensions)."""
        del key
        x = batch["x"]
        recon = self.reconstruct(variables, x)
        err = jnp.mean((recon - x).reshape(x.shape[0], -1) ** 2, axis=1)
        return {**self._nll_metrics(self.log_prob(variables, x)), "recon_error": err}

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """Per-example negative log-likelihood ``[B]`` (nats)."""
        del key
        return self._nll_metrics(self.log_prob(variables, batch["x"]))["nll"]

    # ----- capabilities ----------------------------------------------------------------------

    def sample(self, variables: Variables, key: jax.Array, num: int,
               label: jax.Array | None = None) -> jax.Array:
        """``[num, *shape]`` draws of ``W z + mu + eps`` (clipped to ``[0, 1]`` for discrete
        data, whose dequantized values live there)."""
        return self.sample_at_temperature(variables, key, num, 1.0, label)

    def sample_at_temperature(self, variables: Variables, key: jax.Array, num: int,
                              temperature: float, label: jax.Array | None = None) -> jax.Array:
        """:meth:`sample` with ``z`` and ``eps`` scaled by ``temperature``."""
        del label
        p = variables["params"]
        w = p["w"]
        key_z, key_eps = jax.random.split(key)
        z = jax.random.normal(key_z, (num, w.shape[1]), w.dtype)
        eps = jax.random.normal(key_eps, (num, w.shape[0]), w.dtype)
        x = p["mu"] + temperature * (z @ w.T + jnp.exp(p["log_sigma"]) * eps)
        x = x.reshape(num, *self.info.shape)
        return jnp.clip(x, 0.0, 1.0) if self.info.num_levels else x  # images live in [0, 1]

    def reconstruct(self, variables: Variables, x: jax.Array,
                    label: jax.Array | None = None) -> jax.Array:
        """``W E[z | x] + mu`` with ``E[z | x] = M^{-1} W^T (x - mu)``: ``[B, *shape]``."""
        p = variables["params"]
        z = self.to_latent(variables, x, label)
        return (z @ p["w"].T + p["mu"]).reshape(x.shape)

    def to_latent(self, variables: Variables, x: jax.Array,
                  label: jax.Array | None = None) -> jax.Array:
        """The posterior mean ``E[z | x] = M^{-1} W^T (x - mu)``, ``M = W^T W + sigma^2 I``:
        ``[B, latent_dim]``."""
        del label
        check_inputs(x, None, tuple(self.info.shape), 0)
        p = variables["params"]
        w, mu = p["w"], p["mu"]
        r = x.reshape(x.shape[0], -1).astype(w.dtype) - mu
        m = w.T @ w + jnp.exp(2.0 * p["log_sigma"]) * jnp.eye(w.shape[1], dtype=w.dtype)
        return jnp.linalg.solve(m, (r @ w).T).T

    def from_latent(self, variables: Variables, z: jax.Array,
                    label: jax.Array | None = None) -> jax.Array:
        """The mean of ``p(x | z)``, ``W z + mu``: ``[N, *shape]`` (clipped to ``[0, 1]`` for
        discrete data, as samples are)."""
        del label
        p = variables["params"]
        x = (z @ p["w"].T + p["mu"]).reshape(z.shape[0], *self.info.shape)
        return jnp.clip(x, 0.0, 1.0) if self.info.num_levels else x

    def check_data(self, data: DataConfig) -> None:
        """Raises a one-line ``ValueError`` for binarized data (a Gaussian density needs
        continuous values)."""
        if data.binarize:
            raise ValueError("ppca: a Gaussian density models continuous values; drop "
                             "data.binarize (discrete data is dequantized by default)")

    def dequantizes(self) -> bool:
        """True: discrete data reaches the model uniformly dequantized."""
        return True


def build(config: PPCAConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32) -> PPCA:
    """A :class:`PPCA` for ``info``'s data (validates the config; one-line ``ValueError``)."""
    return PPCA(config, info, dtype=dtype)
