"""Samplers of a diffusion model, as pure functions of a denoiser.

A denoiser maps ``(x [B, ...], t)`` to ``(x0_hat, eps_hat)``: the network's estimate of the
clean data and of the noise in ``x = alpha(t) x_0 + sigma(t) eps`` (the score is
``-eps_hat / sigma``). Each sampler walks the process's grid ``t_0 = t_max > ... > t_{K-1} =
t_min`` and ends with the step to clean data, which returns the last ``x0_hat``; so
``steps = K`` network evaluations for the first-order samplers.

=============  ==============================================================  ===========
sampler        update                                                          NFE
=============  ==============================================================  ===========
``ddpm``       ancestral sampling, the posterior ``q(x_s | x_t, x0_hat)``      K
``ddim``       DDIM (Song et al. 2021) with ``eta`` (0: deterministic; 1: ddpm) K
``euler``      Euler on the probability-flow ODE in EDM's ``(x/alpha, s)``     K
``heun``       EDM's Algorithm 1: Heun in ``(x/alpha, s)``, Euler last          2K - 1
``dpmpp_2m``   DPM-Solver++(2M) (Lu et al. 2022), data prediction, multistep    K
``pc``         reverse-SDE Euler-Maruyama predictor + Langevin corrector        (K-1)(1+C)+1
``adaptive``   the probability-flow ODE in ``t`` with Dormand-Prince (diffrax)  reported
=============  ==============================================================  ===========

Euler in ``(x/alpha, s)`` and DDIM with ``eta = 0`` are the same update (Karras et al. 2022,
sec. 3); both names are kept because both are what users look for.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from .. import _ode
from .._sampling import SamplerSettings
from ._process import NoiseProcess

Denoiser = Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]
SAMPLERS: tuple[str, ...] = ("ddpm", "ddim", "euler", "heun", "dpmpp_2m", "pc", "adaptive")
"""The diffusion samplers, in the order of the table above."""


def nfe(settings: SamplerSettings) -> int | None:
    """Network evaluations per sample path of a fixed-step sampler (the table above); None
    for adaptive, which reports its own."""
    k = settings.steps
    return {"heun": 2 * k - 1, "pc": (k - 1) * (1 + settings.corrector_steps) + 1,
            "adaptive": None}.get(settings.name, k)


def sample(denoiser: Denoiser, process: NoiseProcess, x_init: jax.Array, key: jax.Array,
           settings: SamplerSettings) -> tuple[jax.Array, jax.Array]:
    """Runs the sampler ``settings.name`` from ``x_init`` at ``t_max``.

    Args:
      denoiser: ``(x, t) -> (x0_hat, eps_hat)``.
      process: the noise process (its grid and ``alpha``/``sigma``).
      x_init: ``[B, ...]`` draws of the prior at ``t_max``.
      key: the sampler's randomness (ddpm, ddim with eta > 0, pc).
      settings: the sampler and its options.

    Returns:
      ``(x0 [B, ...], nfe)``: samples in the model's data space and the evaluations used.
    """
    settings.check(SAMPLERS)
    grid = process.grid(settings.steps).astype(x_init.dtype)
    name = settings.name
    if name == "adaptive":
        return _adaptive(denoiser, process, x_init, settings)
    if name in ("ddpm", "ddim"):
        eta = 1.0 if name == "ddpm" else settings.eta
        x = _ddim(denoiser, process, x_init, grid, key, eta)
    elif name == "euler":
        x = _euler_heun(denoiser, process, x_init, grid, heun=False)
    elif name == "heun":
        x = _euler_heun(denoiser, process, x_init, grid, heun=True)
    elif name == "dpmpp_2m":
        x = _dpmpp_2m(denoiser, process, x_init, grid)
    else:
        x = _pc(denoiser, process, x_init, grid, key, settings.snr, settings.corrector_steps)
    return x, jnp.asarray(nfe(settings))


def _pairs(grid: jax.Array) -> jax.Array:
    return jnp.stack([grid[:-1], grid[1:]], axis=1)


def _final(denoiser: Denoiser, x: jax.Array, grid: jax.Array) -> jax.Array:
    return denoiser(x, grid[-1])[0]


def _ddim(denoiser, process, x, grid, key, eta):
    def step(carry, ts):
        x, key = carry
        t, s = ts
        key, sub = jax.random.split(key)
        x0, eps = denoiser(x, t)
        a_t, s_t, a_s, s_s = process.alpha(t), process.sigma(t), process.alpha(s), process.sigma(s)
        var_ts = s_t**2 - (a_t / a_s) ** 2 * s_s**2  # of q(x_t | x_s)
        c = eta * jnp.sqrt(jnp.maximum(var_ts * s_s**2 / s_t**2, 0.0))
        x = a_s * x0 + jnp.sqrt(jnp.maximum(s_s**2 - c**2, 0.0)) * eps \
            + c * jax.random.normal(sub, x.shape, x.dtype)
        return (x, key), None

    (x, _), _ = jax.lax.scan(step, (x, key), _pairs(grid))
    return _final(denoiser, x, grid)


def _euler_heun(denoiser, process, x, grid, *, heun):
    def scaled(t):
        return process.sigma(t) / process.alpha(t)

    def step(x, ts):
        t, s = ts
        a_t, a_s = process.alpha(t), process.alpha(s)
        x_tilde, h = x / a_t, scaled(s) - scaled(t)
        d = denoiser(x, t)[1]  # d x~ / d s = eps_hat
        x_next = x_tilde + h * d
        if heun:
            d_next = denoiser(a_s * x_next, s)[1]
            x_next = x_tilde + h * 0.5 * (d + d_next)
        return a_s * x_next, None

    x, _ = jax.lax.scan(step, x, _pairs(grid))
    return _final(denoiser, x, grid)


def _dpmpp_2m(denoiser, process, x, grid):
    lam = process.log_snr(grid) / 2  # log(alpha / sigma)

    def step(carry, i):
        x, x0_prev, h_prev = carry
        t, s = grid[i], grid[i + 1]
        x0, _ = denoiser(x, t)
        h = lam[i + 1] - lam[i]
        r = h_prev / h
        d = jnp.where(i == 0, x0, (1 + 0.5 / r) * x0 - (0.5 / r) * x0_prev)
        x = process.sigma(s) / process.sigma(t) * x - process.alpha(s) * jnp.expm1(-h) * d
        return (x, x0, h), None

    init = (x, jnp.zeros_like(x), jnp.ones((), x.dtype))
    (x, _, _), _ = jax.lax.scan(step, init, jnp.arange(grid.shape[0] - 1))
    return _final(denoiser, x, grid)


def _pc(denoiser, process, x, grid, key, snr, corrector_steps):
    def score(x, t):
        return -denoiser(x, t)[1] / process.sigma(t)

    def norms(v):
        return jnp.sqrt(jnp.sum(v.reshape(v.shape[0], -1) ** 2, axis=1)).reshape(
            (-1,) + (1,) * (v.ndim - 1))

    def step(carry, ts):
        x, key = carry
        t, s = ts
        for _ in range(corrector_steps):  # Langevin at t (Song et al. 2021, Algorithm 5)
            key, sub = jax.random.split(key)
            g, z = score(x, t), jax.random.normal(sub, x.shape, x.dtype)
            eps = 2 * (snr * norms(z) / norms(g)) ** 2
            x = x + eps * g + jnp.sqrt(2 * eps) * z
        key, sub = jax.random.split(key)  # reverse-SDE Euler-Maruyama from t to s
        f, g2 = process.drift_diffusion(t)
        dt = s - t
        x = x + (f * x - g2 * score(x, t)) * dt \
            + jnp.sqrt(g2 * -dt) * jax.random.normal(sub, x.shape, x.dtype)
        return (x, key), None

    (x, _), _ = jax.lax.scan(step, (x, key), _pairs(grid))
    return _final(denoiser, x, grid)


def probability_flow(denoiser: Denoiser, process: NoiseProcess) -> _ode.Field:
    """The probability-flow ODE's field ``dx/dt = f x + g^2 eps_hat / (2 sigma)``."""

    def field(x, t):
        f, g2 = process.drift_diffusion(t)
        return f * x + 0.5 * g2 * denoiser(x, t)[1] / process.sigma(t)

    return field


def _adaptive(denoiser, process, x, settings):
    field = probability_flow(denoiser, process)
    x, nfe = _ode.adaptive(field, x, process.t_max, process.t_min, rtol=settings.rtol,
                           atol=settings.atol)
    return denoiser(x, jnp.asarray(process.t_min, x.dtype))[0], nfe + 1


def _ddim_walk(denoiser, process, x, times):
    def step(x, ts):
        t, s = ts
        x0, eps = denoiser(x, t)
        return process.alpha(s) * x0 + process.sigma(s) * eps, None

    x, _ = jax.lax.scan(step, x, _pairs(times))
    return x


def ddim_encode(denoiser: Denoiser, process: NoiseProcess, x: jax.Array,
                steps: int) -> jax.Array:
    """DDIM inversion (eta = 0): the point at ``t_max`` whose deterministic DDIM path on the
    ``steps``-point grid ends at ``x`` (taken as the state at ``t_min``)."""
    return _ddim_walk(denoiser, process, x, process.grid(steps)[::-1].astype(x.dtype))


def ddim_decode(denoiser: Denoiser, process: NoiseProcess, z: jax.Array,
                steps: int) -> jax.Array:
    """DDIM (eta = 0) from ``z`` at ``t_max`` to the state at ``t_min`` on the
    ``steps``-point grid (without the final denoising): the inverse of :func:`ddim_encode`
    up to the discretization."""
    return _ddim_walk(denoiser, process, z, process.grid(steps).astype(z.dtype))
