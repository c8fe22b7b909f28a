"""Noise processes: every one is a marginal ``x_t = alpha(t) x_0 + sigma(t) eps``.

One description covers the discrete-time DDPM (linear and cosine schedules), the continuous VP,
sub-VP and VE SDEs of Song et al. (2021) and EDM's ``sigma``-time (Karras et al. 2022). From
``alpha`` and ``sigma`` follow the linear SDE with those marginals,
``dx = f(t) x dt + g(t) dW`` with ``f = d log alpha / dt`` and ``g^2 = d sigma^2 / dt - 2 f
sigma^2`` (for the sub-VP SDE this gives its own ``g^2 = beta (1 - alpha^4)``), its
probability-flow ODE and everything the samplers need; the derivatives come from autodiff, so
a new process only states its ``alpha`` and ``sigma``.

Time runs from ``t_min`` (nearly clean data) to ``t_max`` (nearly pure noise). The network
sees the noise level as ``net_time(t)``: ``1000 t`` on the unit interval (DDPM's timestep
scale), ``250 ln sigma`` for EDM (its ``c_noise = ln(sigma) / 4``, on the same scale).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import jax
import jax.numpy as jnp

ProcessName = Literal["ddpm", "vp", "subvp", "ve", "edm"]


@dataclasses.dataclass(frozen=True)
class NoiseProcess:
    """The base of every process: subclasses give ``alpha`` and ``sigma`` (and may change the
    training times, the sampling grid and the network's time input).

    Attributes:
      t_min: the earliest time samplers and likelihoods use (the data end).
      t_max: the time of the prior (the noise end).
    """

    t_min: float
    t_max: float

    def log_alpha(self, t: jax.Array) -> jax.Array:
        """``log alpha(t)``, elementwise."""
        raise NotImplementedError

    def sigma(self, t: jax.Array) -> jax.Array:
        """``sigma(t)``, elementwise."""
        raise NotImplementedError

    def alpha(self, t: jax.Array) -> jax.Array:
        """``alpha(t)``, the scale of the data in ``x_t``."""
        return jnp.exp(self.log_alpha(t))

    def log_snr(self, t: jax.Array) -> jax.Array:
        """``lambda(t) = log(alpha^2 / sigma^2)``, decreasing in ``t``."""
        return 2 * (self.log_alpha(t) - jnp.log(self.sigma(t)))

    def drift_diffusion(self, t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(f(t), g(t)^2)`` of the SDE ``dx = f x dt + g dW`` with these marginals."""
        t = jnp.asarray(t, jnp.result_type(float))
        var = lambda s: self.sigma(s) ** 2  # noqa: E731
        f = jax.jvp(self.log_alpha, (t,), (jnp.ones_like(t),))[1]
        dvar = jax.jvp(var, (t,), (jnp.ones_like(t),))[1]
        return f, dvar - 2 * f * var(t)

    def train_times(self, key: jax.Array, num: int) -> jax.Array:
        """``[num]`` training times (default: uniform on ``[t_min, t_max]``)."""
        return jax.random.uniform(key, (num,), minval=self.t_min, maxval=self.t_max)

    def grid(self, steps: int) -> jax.Array:
        """``[steps]`` sampling times from ``t_max`` down to ``t_min`` (default: uniform)."""
        return jnp.linspace(self.t_max, self.t_min, steps)

    def net_time(self, t: jax.Array) -> jax.Array:
        """The noise level as the network sees it (default ``1000 t``)."""
        return 1000.0 * t

    def prior_std(self) -> jax.Array:
        """Standard deviation of the prior ``N(0, s^2 I)`` at ``t_max``: ``sqrt(alpha^2 +
        sigma^2)``, exact for data of unit variance and close whenever ``alpha(t_max)`` is
        small (VP, DDPM) or ``sigma(t_max)`` large (VE, EDM)."""
        t = jnp.asarray(self.t_max)
        return jnp.sqrt(self.alpha(t) ** 2 + self.sigma(t) ** 2)


@dataclasses.dataclass(frozen=True)
class DDPM(NoiseProcess):
    """Discrete-time DDPM with ``N`` steps: ``alpha_bar_i = prod_{j <= i} (1 - beta_j)`` at
    ``t = i / N``; between grid points ``log alpha`` is interpolated linearly (as DPM-Solver
    treats discrete models), which gives the probability-flow ODE its continuous time.

    ``schedule="linear"``: ``beta`` from ``beta_min / N`` to ``beta_max / N`` (1e-4 to 0.02 for
    N = 1000, Ho et al. 2020). ``"cosine"``: Nichol & Dhariwal (2021), ``s = 0.008``, betas
    clipped at 0.999.
    """

    num_timesteps: int = 1000
    schedule: Literal["linear", "cosine"] = "linear"
    beta_min: float = 0.1
    beta_max: float = 20.0

    def betas(self) -> jax.Array:
        """``[N]`` betas ``beta_1..beta_N``."""
        n = self.num_timesteps
        if self.schedule == "linear":
            return jnp.linspace(self.beta_min / n, self.beta_max / n, n)
        s = 0.008
        steps = jnp.arange(n + 1) / n
        f = jnp.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        return jnp.clip(1 - f[1:] / f[:-1], 0.0, 0.999)

    def _log_alpha_bar(self) -> jax.Array:
        """``[N + 1]`` ``log alpha_bar`` at ``i = 0..N`` (``alpha_bar_0 = 1``)."""
        return jnp.concatenate([jnp.zeros(1), jnp.cumsum(jnp.log1p(-self.betas()))])

    def log_alpha(self, t: jax.Array) -> jax.Array:
        grid = jnp.linspace(0.0, 1.0, self.num_timesteps + 1)
        return 0.5 * jnp.interp(t, grid, self._log_alpha_bar())

    def sigma(self, t: jax.Array) -> jax.Array:
        return jnp.sqrt(-jnp.expm1(2 * self.log_alpha(t)))

    def train_times(self, key: jax.Array, num: int) -> jax.Array:
        """Uniform over the steps ``i = 1..N`` (``t = i / N``)."""
        i = jax.random.randint(key, (num,), 1, self.num_timesteps + 1)
        return i / self.num_timesteps

    def grid(self, steps: int) -> jax.Array:
        """Evenly spaced steps from ``N`` down to 1, rounded to the step grid (``steps <= N``;
        the full grid is DDPM's own)."""
        n = self.num_timesteps
        return jnp.round(jnp.linspace(n, 1, steps)) / n


@dataclasses.dataclass(frozen=True)
class VP(NoiseProcess):
    """The variance-preserving SDE: ``beta(t) = beta_min + t (beta_max - beta_min)``,
    ``log alpha = -t^2 (beta_max - beta_min) / 4 - t beta_min / 2``, ``sigma^2 = 1 - alpha^2``
    (the continuous limit of DDPM's linear schedule)."""

    beta_min: float = 0.1
    beta_max: float = 20.0

    def log_alpha(self, t: jax.Array) -> jax.Array:
        return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def sigma(self, t: jax.Array) -> jax.Array:
        return jnp.sqrt(-jnp.expm1(2 * self.log_alpha(t)))


@dataclasses.dataclass(frozen=True)
class SubVP(VP):
    """The sub-VP SDE: VP's ``alpha`` with ``sigma = 1 - alpha^2`` (a smaller variance at every
    time, Song et al. 2021, eq. 29)."""

    def sigma(self, t: jax.Array) -> jax.Array:
        return -jnp.expm1(2 * self.log_alpha(t))


@dataclasses.dataclass(frozen=True)
class VE(NoiseProcess):
    """The variance-exploding SDE: ``alpha = 1``, ``sigma(t) = sigma_min (sigma_max /
    sigma_min)^t``."""

    sigma_min: float = 0.01
    sigma_max: float = 50.0

    def log_alpha(self, t: jax.Array) -> jax.Array:
        return jnp.zeros_like(t)

    def sigma(self, t: jax.Array) -> jax.Array:
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t


@dataclasses.dataclass(frozen=True)
class EDM(NoiseProcess):
    """Karras et al. (2022): time is the noise level, ``alpha = 1``, ``sigma(t) = t`` on
    ``[sigma_min, sigma_max]``; training levels log-normal, ``ln sigma ~ N(p_mean, p_std^2)``;
    sampling on the ``rho`` grid ``(s_max^(1/rho) + i/(n-1) (s_min^(1/rho) - s_max^(1/rho)))^rho``.
    """

    p_mean: float = -1.2
    p_std: float = 1.2
    rho: float = 7.0

    def log_alpha(self, t: jax.Array) -> jax.Array:
        return jnp.zeros_like(t)

    def sigma(self, t: jax.Array) -> jax.Array:
        return t

    def train_times(self, key: jax.Array, num: int) -> jax.Array:
        return jnp.exp(self.p_mean + self.p_std * jax.random.normal(key, (num,)))

    def grid(self, steps: int) -> jax.Array:
        return karras_grid(self.t_min, self.t_max, steps, self.rho)

    def net_time(self, t: jax.Array) -> jax.Array:
        return 250.0 * jnp.log(t)


def karras_grid(sigma_min: float, sigma_max: float, steps: int, rho: float = 7.0) -> jax.Array:
    """``[steps]`` noise levels from ``sigma_max`` down to ``sigma_min`` spaced as EDM's eq. 5."""
    if steps == 1:
        return jnp.array([sigma_max])
    ramp = jnp.linspace(0.0, 1.0, steps)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho


DEFAULT_T_MIN: dict[str, float] = {"vp": 1e-3, "subvp": 1e-3, "ve": 1e-5}
"""Song et al.'s sampling epsilon of each continuous SDE (the likelihood uses the same)."""


def make_process(name: ProcessName, *, num_timesteps: int = 1000,
                 schedule: Literal["linear", "cosine"] = "linear", beta_min: float = 0.1,
                 beta_max: float = 20.0, sigma_min: float | None = None,
                 sigma_max: float | None = None, t_min: float | None = None,
                 p_mean: float = -1.2, p_std: float = 1.2, rho: float = 7.0) -> NoiseProcess:
    """The process called ``name`` with its settings (``None``: the process's default).

    Raises:
      ValueError: an unknown name or settings out of range.
    """
    if name == "ddpm":
        if num_timesteps < 2:
            raise ValueError(f"ddpm needs num_timesteps >= 2, got {num_timesteps}")
        if schedule not in ("linear", "cosine"):
            raise ValueError(f"unknown ddpm schedule {schedule!r}; use linear or cosine")
        if schedule == "linear" and not 0 < beta_min < beta_max < num_timesteps:
            raise ValueError(f"ddpm's linear schedule needs 0 < beta_min < beta_max < "
                             f"num_timesteps, got {beta_min} and {beta_max}")
        return DDPM(1 / num_timesteps, 1.0, num_timesteps, schedule, beta_min, beta_max)
    if name in ("vp", "subvp"):
        if not 0 <= beta_min < beta_max:
            raise ValueError(f"{name} needs 0 <= beta_min < beta_max, got {beta_min} and "
                             f"{beta_max}")
        t0 = DEFAULT_T_MIN[name] if t_min is None else t_min
        _check_t_min(name, t0)
        return (VP if name == "vp" else SubVP)(t0, 1.0, beta_min, beta_max)
    if name == "ve":
        lo, hi = (0.01 if sigma_min is None else sigma_min), (50.0 if sigma_max is None
                                                              else sigma_max)
        _check_sigmas(name, lo, hi)
        t0 = DEFAULT_T_MIN[name] if t_min is None else t_min
        _check_t_min(name, t0)
        return VE(t0, 1.0, lo, hi)
    if name == "edm":
        lo, hi = (0.002 if sigma_min is None else sigma_min), (80.0 if sigma_max is None
                                                               else sigma_max)
        _check_sigmas(name, lo, hi)
        if t_min is not None:
            raise ValueError("edm's time is the noise level: set sigma_min, not t_min")
        if p_std <= 0 or rho <= 0:
            raise ValueError(f"edm needs p_std > 0 and rho > 0, got {p_std} and {rho}")
        return EDM(lo, hi, p_mean, p_std, rho)
    raise ValueError(f"unknown noise process {name!r}; use ddpm, vp, subvp, ve or edm")


def _check_t_min(name: str, t_min: float) -> None:
    if not 0 < t_min < 1:
        raise ValueError(f"{name}: t_min must be in (0, 1), got {t_min}")


def _check_sigmas(name: str, lo: float, hi: float) -> None:
    if not 0 < lo < hi:
        raise ValueError(f"{name} needs 0 < sigma_min < sigma_max, got {lo} and {hi}")
