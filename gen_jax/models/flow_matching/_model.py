"""Conditional flow matching as a :class:`~gen_jax.models.GenerativeModel`: the regression of
the path's velocity, Euler/Heun/adaptive sampling, and the exact likelihood through the ODE."""

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
from ._config import FlowMatchingConfig
from ._paths import interpolate, ot_pairs

Dtype = Any
SAMPLERS: tuple[str, ...] = ("euler", "heun", "adaptive")
"""Flow matching's samplers: fixed-step Euler (K evaluations) and Heun (2K), and
Dormand-Prince with adaptive steps (diffrax)."""


def validate(config: FlowMatchingConfig, info: DatasetInfo) -> None:
    """Checks ``config`` against the data, raising a one-line ``ValueError`` naming the fix."""
    validate_common(config, info, "flow_matching", SAMPLERS)
    if config.path not in ("rectified", "gaussian"):
        raise ValueError(f"flow_matching: unknown path {config.path!r}; use rectified or "
                         "gaussian")
    if config.coupling not in ("independent", "ot"):
        raise ValueError(f"flow_matching: unknown coupling {config.coupling!r}; use "
                         "independent or ot")
    if not 0 <= config.sigma_min < 1 or config.ot_epsilon < 0:
        raise ValueError(f"flow_matching: sigma_min must be in [0, 1) and ot_epsilon >= 0, got "
                         f"{config.sigma_min} and {config.ot_epsilon}")


class FlowMatching(ContinuousFamily):
    """A flow-matching model bound to a config and a data set (see
    :class:`~gen_jax.models._continuous.ContinuousFamily` for the attributes)."""

    family = "flow_matching"
    samplers = SAMPLERS

    def __init__(self, config: FlowMatchingConfig, info: DatasetInfo, *,
                 dtype: Dtype = jnp.float32):
        validate(config, info)
        super().__init__(config, info, dtype=dtype)

    def velocity(self, variables: Variables, label: jax.Array | None = None,
                 guidance_scale: float = 1.0) -> _ode.Field:
        """``(y, t) -> v(y, t)`` in model space (classifier-free guidance for a conditional
        model: 1 is the conditional field, 0 the unconditional one)."""
        net = self._guided(variables, label, guidance_scale)
        return lambda y, t: net(y, 1000.0 * jnp.asarray(t, y.dtype)).astype(y.dtype)

    # ----- the GenerativeModel interface ------------------------------------------------------

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """Initial network variables for a batch of this shape."""
        return self._init_net(key, batch)

    def _regression_terms(self, variables, batch, key, *, train, couple=True):
        """Per-example squared error of the predicted velocity at random times."""
        key_noise, key_t, key_pair, key_label, key_drop = jax.random.split(key, 5)
        cfg = self.config
        x1 = self.to_model(batch["x"])
        x0 = jax.random.normal(key_noise, x1.shape, x1.dtype)
        label = batch.get("label") if self.num_classes else None
        if couple and cfg.coupling == "ot":
            i, j = ot_pairs(key_pair, x0, x1, cfg.ot_epsilon)
            x0, x1 = x0[i], x1[j]
            label = None if label is None else label[j]
        t = jax.random.uniform(key_t, x1.shape[:1], x1.dtype)
        xt, ut = interpolate(cfg.path, x0, x1, t, cfg.sigma_min)
        if train:
            label = self._drop_labels(label, key_label)
        out = self._apply(variables, xt, 1000.0 * t, label, train=train, key=key_drop)
        return jnp.mean(((out - ut) ** 2).reshape(x1.shape[0], -1), axis=1)

    def loss(self, variables: Variables, batch: Batch, key: jax.Array, *,
             train: bool = True) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """The conditional flow-matching loss (mean squared velocity error)."""
        loss = jnp.mean(self._regression_terms(variables, batch, key, train=train))
        return loss, ({"fm_loss": loss}, {})

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per-example ``fm_loss`` (independent coupling, comparable across couplings) and,
        with ``likelihood=ode``, ``nll`` (and ``bpd``) through the ODE."""
        out = {"fm_loss": self._regression_terms(variables, batch, key, train=False,
                                                 couple=False)}
        if self.ode_likelihood:
            out |= self._density_metrics(self._model_log_prob(variables, batch["x"],
                                                              batch.get("label")))
        return out

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """``nll`` through the ODE (``likelihood=ode``), else the regression loss averaged
        over 8 draws of time and noise."""
        if self.ode_likelihood:
            return self._density_metrics(self._model_log_prob(
                variables, batch["x"], batch.get("label")))["nll"]
        keys = jax.random.split(key, 8)
        return jnp.mean(jax.vmap(lambda k: self._regression_terms(
            variables, batch, k, train=False, couple=False))(keys), axis=0)

    # ----- sampling ---------------------------------------------------------------------------

    def sampler_nfe(self, settings: SamplerSettings) -> int | None:
        """Network evaluations per sample path: K (euler), 2K (heun), None (adaptive); twice
        as many under guidance other than 0 and 1."""
        per = {"euler": settings.steps, "heun": 2 * settings.steps}.get(settings.name)
        return None if per is None else per * self._guidance_factor(settings)

    def sample_with(self, variables: Variables, key: jax.Array, num: int,
                    settings: SamplerSettings, label: jax.Array | None = None
                    ) -> tuple[jax.Array, jax.Array]:
        """``([num, *shape] samples in data space, network evaluations per path)``."""
        settings.check(SAMPLERS)
        y, count = self._solve(variables, jax.random.normal(key, (num, *self.info.shape)),
                               label, 0.0, 1.0, settings)
        return self.from_model(y), count

    def from_noise(self, variables: Variables, noise: jax.Array,
                   label: jax.Array | None = None) -> jax.Array:
        """Data made from standard-normal ``noise`` by the config's sampler:
        ``sample_with`` from the start ``noise``."""
        return self.from_model(self._solve(variables, noise, label, 0.0, 1.0)[0])

    def to_noise(self, variables: Variables, x: jax.Array,
                 label: jax.Array | None = None) -> jax.Array:
        """The config's sampler run backwards from ``x`` (``t = 1``) to ``t = 0``: the noise
        :meth:`from_noise` maps to ``x``, up to the discretization."""
        return self._solve(variables, self.to_model(x), label, 1.0, 0.0)[0]

    def _solve(self, variables: Variables, y: jax.Array, label: jax.Array | None,
               t0: float, t1: float, settings: SamplerSettings | None = None
               ) -> tuple[jax.Array, jax.Array]:
        """The ODE from ``y`` at ``t0`` to ``t1`` with ``settings`` (default: the config's
        sampler), and the network evaluations per path."""
        settings = settings or self.default_sampler()
        self._check_labels(label, settings)
        field = self.velocity(variables, label, settings.guidance_scale)
        if settings.name == "adaptive":
            y, count = _ode.adaptive(field, y, t0, t1, rtol=settings.rtol, atol=settings.atol)
            return y, count * self._guidance_factor(settings)
        times = jnp.linspace(t0, t1, settings.steps + 1, dtype=y.dtype)
        return (_ode.fixed_step(field, y, times, settings.name),
                jnp.asarray(self.sampler_nfe(settings)))

    # ----- likelihood -------------------------------------------------------------------------

    def _model_log_prob(self, variables: Variables, x: jax.Array,
                        label: jax.Array | None) -> jax.Array:
        """``log p_1(y)`` of model-space ``y`` through the ODE back to the ``N(0, I)`` prior."""
        log_p, _ = _ode.log_likelihood(
            self.velocity(variables, label), self.to_model(x), 1.0, 0.0,
            _ode.gaussian_prior(1.0), jax.random.PRNGKey(0),
            divergence=resolved_divergence(self.config, self.info), rtol=self.config.ode_rtol,
            atol=self.config.ode_atol)
        return log_p


class FlowMatchingWithLikelihood(ODELikelihood, FlowMatching):
    """A flow-matching model whose likelihood is computed (``likelihood=ode``): ``log_prob``
    through the ODE from the data at ``t = 1`` back to the prior."""


def build(config: FlowMatchingConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32
          ) -> FlowMatching:
    """The flow-matching model of ``config`` for ``info``'s data (with ``log_prob`` when its
    likelihood is computed)."""
    cls = FlowMatchingWithLikelihood if resolved_likelihood(config, info) == "ode" \
        else FlowMatching
    return cls(config, info, dtype=dtype)
