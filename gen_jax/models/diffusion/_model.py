"""Diffusion models as a :class:`~gen_jax.models.GenerativeModel`: denoising loss, the samplers
of :mod:`._samplers`, the DDPM variational bound and the probability-flow ODE's likelihood."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ...data import DatasetInfo
from .. import _ode
from .._base import Batch, Metrics, Variables
from .._continuous import (
    ContinuousFamily,
    ODELikelihood,
    resolved_divergence,
    resolved_likelihood,
    validate_common,
)
from .._sampling import SamplerSettings
from . import _param
from ._bound import ddpm_vlb
from ._config import DiffusionConfig
from ._process import DDPM, make_process
from ._samplers import SAMPLERS, Denoiser, ddim_decode, ddim_encode, nfe, probability_flow
from ._samplers import sample as run_sampler

Dtype = Any
_LIKELIHOOD_KEY = 0
"""The Hutchinson noise of the likelihood comes from ``PRNGKey(0)``: every call on the same
batch gives the same estimate (the anomaly score and ``evaluate`` agree)."""


def validate(config: DiffusionConfig, info: DatasetInfo) -> None:
    """Checks ``config`` against the data, raising a one-line ``ValueError`` naming the fix."""
    validate_common(config, info, "diffusion", SAMPLERS)
    if config.prediction not in _param.PREDICTIONS:
        raise ValueError(f"diffusion: unknown prediction {config.prediction!r}; use "
                         f"{', '.join(_param.PREDICTIONS)}")
    if config.sigma_data <= 0:
        raise ValueError(f"diffusion: sigma_data must be > 0, got {config.sigma_data}")
    if config.process == "ddpm" and config.steps > config.num_timesteps:
        raise ValueError(f"diffusion: {config.steps} sampler steps exceed the "
                         f"{config.num_timesteps} steps of the ddpm process; lower steps")


class Diffusion(ContinuousFamily):
    """A diffusion model bound to a config and a data set.

    Attributes:
      process: the :class:`~gen_jax.models.diffusion.NoiseProcess`.
      (and those of :class:`~gen_jax.models._continuous.ContinuousFamily`)
    """

    family = "diffusion"
    samplers = SAMPLERS

    def __init__(self, config: DiffusionConfig, info: DatasetInfo, *,
                 dtype: Dtype = jnp.float32):
        validate(config, info)
        self.process = make_process(
            config.process, num_timesteps=config.num_timesteps, schedule=config.schedule,
            beta_min=config.beta_min, beta_max=config.beta_max, sigma_min=config.sigma_min,
            sigma_max=config.sigma_max, t_min=config.t_min, p_mean=config.p_mean,
            p_std=config.p_std, rho=config.rho)
        super().__init__(config, info, dtype=dtype)

    # ----- the denoiser -----------------------------------------------------------------------

    def _coefficients(self, t: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(alpha, sigma, net_time)`` at ``t``."""
        alpha, sigma = self.process.alpha(t), self.process.sigma(t)
        net_time = _param.net_time(self.config.prediction, alpha, sigma,
                                   self.process.net_time(t))
        return alpha, sigma, net_time

    def denoiser(self, variables: Variables, label: jax.Array | None = None,
                 guidance_scale: float = 1.0, *, clip: bool = False) -> Denoiser:
        """``(y, t) -> (y0_hat, eps_hat)`` in model space, with classifier-free guidance
        ``guidance_scale`` for a conditional model (1: the conditional model itself); ``clip``:
        ``y0_hat`` clipped to ``[-1, 1]`` (images) and ``eps_hat`` made consistent with it."""
        net = self._guided(variables, label, guidance_scale)
        prediction, sigma_data = self.config.prediction, self.config.sigma_data

        def denoise(y, t):
            alpha, sigma, net_time = self._coefficients(jnp.asarray(t, y.dtype))
            out = net(_param.net_input(prediction, y, alpha, sigma, sigma_data), net_time)
            y0, eps = _param.denoise(prediction, out.astype(y.dtype), y, alpha, sigma,
                                     sigma_data)
            if clip:
                y0 = jnp.clip(y0, -1.0, 1.0)
                eps = (y - _param.expand(alpha, y) * y0) / _param.expand(sigma, y)
            return y0, eps

        return denoise

    # ----- the GenerativeModel interface ------------------------------------------------------

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """Initial network variables for a batch of this shape."""
        return self._init_net(key, batch)

    def _denoising_terms(self, variables, batch, key, *, train):
        """Per-example squared error of the prediction's target, and what it was made of."""
        key_t, key_eps, key_label, key_drop = jax.random.split(key, 4)
        y0 = self.to_model(batch["x"])
        n = y0.shape[0]
        t = self.process.train_times(key_t, n).astype(y0.dtype)
        eps = jax.random.normal(key_eps, y0.shape, y0.dtype)
        alpha, sigma, net_time = self._coefficients(t)
        y = _param.expand(alpha, y0) * y0 + _param.expand(sigma, y0) * eps
        label = batch.get("label") if self.num_classes else None
        if train:
            label = self._drop_labels(label, key_label)
        cfg = self.config
        out = self._apply(variables, _param.net_input(cfg.prediction, y, alpha, sigma,
                                                      cfg.sigma_data),
                          net_time, label, train=train, key=key_drop)
        target = _param.target(cfg.prediction, y0, eps, alpha, sigma, cfg.sigma_data)
        return jnp.mean(((out - target) ** 2).reshape(n, -1), axis=1)

    def loss(self, variables: Variables, batch: Batch, key: jax.Array, *,
             train: bool = True) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """The mean squared error of the prediction's target at random noise levels."""
        per_example = self._denoising_terms(variables, batch, key, train=train)
        loss = jnp.mean(per_example)
        return loss, ({"denoising_loss": loss}, {})

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per-example ``denoising_loss`` at a random level; ``nll``/``bpd`` through the ODE
        (``likelihood=ode``); on the ddpm process also an unbiased one-step estimate of the
        variational bound, ``vlb_nll`` (nats) and ``vlb_bpd``."""
        key_loss, key_vlb = jax.random.split(key)
        out = {"denoising_loss": self._denoising_terms(variables, batch, key_loss, train=False)}
        if isinstance(self.process, DDPM):
            bound = self._density_metrics(-self._vlb(variables, batch, key_vlb))
            out |= {f"vlb_{k}": v for k, v in bound.items()}
        if self.ode_likelihood:
            out |= self._density_metrics(self._model_log_prob(variables, batch["x"],
                                                              batch.get("label")))
        return out

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """``nll`` through the ODE (``likelihood=ode``), else the DDPM bound ``vlb_nll``, else
        the denoising loss averaged over 8 noise levels."""
        if self.ode_likelihood:
            return self._density_metrics(self._model_log_prob(
                variables, batch["x"], batch.get("label")))["nll"]
        if isinstance(self.process, DDPM):
            return self._density_metrics(-self._vlb(variables, batch, key))["nll"]
        keys = jax.random.split(key, 8)
        return jnp.mean(jax.vmap(lambda k: self._denoising_terms(
            variables, batch, k, train=False))(keys), axis=0)

    # ----- sampling ---------------------------------------------------------------------------

    def sampler_nfe(self, settings: SamplerSettings) -> int | None:
        """Network evaluations per sample path (twice as many under guidance other than 0
        and 1); None for adaptive, whose count depends on the path."""
        per = nfe(settings)
        return None if per is None else per * self._guidance_factor(settings)

    def sample_with(self, variables: Variables, key: jax.Array, num: int,
                    settings: SamplerSettings, label: jax.Array | None = None
                    ) -> tuple[jax.Array, jax.Array]:
        """``([num, *shape] samples in data space, network evaluations per path)``."""
        settings.check(SAMPLERS)
        den = self._sampling_denoiser(variables, label, settings)
        key_init, key_run = jax.random.split(key)
        shape = (num, *self.info.shape)
        y = self.process.prior_std() * jax.random.normal(key_init, shape)
        y0, count = run_sampler(den, self.process, y, key_run, settings)
        return self.from_model(y0), count * self._guidance_factor(settings)

    def from_noise(self, variables: Variables, noise: jax.Array,
                   label: jax.Array | None = None) -> jax.Array:
        """Data made from standard-normal ``noise`` by DDIM with eta 0 on the config's
        ``steps`` grid, then the final denoising: ``sample_with`` under ``ddim`` (eta 0) from
        the start ``prior_std * noise``."""
        settings = self.default_sampler()
        den = self._sampling_denoiser(variables, label, settings)
        grid = self.process.grid(settings.steps).astype(noise.dtype)
        y = ddim_decode(den, self.process, self.process.prior_std() * noise, settings.steps)
        return self.from_model(den(y, grid[-1])[0])

    def to_noise(self, variables: Variables, x: jax.Array,
                 label: jax.Array | None = None) -> jax.Array:
        """DDIM inversion (eta 0, the config's ``steps``) of ``x`` taken as the state at
        ``t_min``, divided by the prior's standard deviation: the noise :meth:`from_noise`
        maps to ``x``, up to the discretization."""
        settings = self.default_sampler()
        den = self._sampling_denoiser(variables, label, settings)
        y = ddim_encode(den, self.process, self.to_model(x), settings.steps)
        return y / self.process.prior_std()

    def _sampling_denoiser(self, variables: Variables, label: jax.Array | None,
                           settings: SamplerSettings) -> Denoiser:
        """The (guided) denoiser the samplers and the noise maps run, after checking the
        settings against the process and the labels."""
        if isinstance(self.process, DDPM) and settings.steps > self.process.num_timesteps:
            raise ValueError(f"{settings.steps} steps exceed the ddpm process's "
                             f"{self.process.num_timesteps}; lower --steps")
        self._check_labels(label, settings)
        return self.denoiser(variables, label, settings.guidance_scale,
                             clip=settings.clip_denoised and self.info.is_discrete)

    # ----- likelihoods ------------------------------------------------------------------------

    def _model_log_prob(self, variables: Variables, x: jax.Array,
                        label: jax.Array | None) -> jax.Array:
        """``log p(y)`` of model-space ``y`` of ``x`` at ``t_min`` through the ODE."""
        y = self.to_model(x)
        field = probability_flow(self.denoiser(variables, label), self.process)
        log_p, _ = _ode.log_likelihood(
            field, y, self.process.t_min, self.process.t_max,
            _ode.gaussian_prior(self.process.prior_std()), jax.random.PRNGKey(_LIKELIHOOD_KEY),
            divergence=resolved_divergence(self.config, self.info), rtol=self.config.ode_rtol,
            atol=self.config.ode_atol)
        return log_p

    def _vlb(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """DDPM's negative variational bound ``[B]`` (nats, model space; one-step estimate)."""
        label = batch.get("label") if self.num_classes else None
        return ddpm_vlb(self.denoiser(variables, label), self.process,
                        self.to_model(batch["x"]), key)


class DiffusionWithLikelihood(ODELikelihood, Diffusion):
    """A diffusion model whose likelihood is computed (``likelihood=ode``): ``log_prob``
    through the probability-flow ODE from ``t_min``."""


def build(config: DiffusionConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32
          ) -> Diffusion:
    """The diffusion model of ``config`` for ``info``'s data (with ``log_prob`` when its
    likelihood is computed)."""
    cls = DiffusionWithLikelihood if resolved_likelihood(config, info) == "ode" else Diffusion
    return cls(config, info, dtype=dtype)
