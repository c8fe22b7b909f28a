"""Bayesian optimization's model and acquisition: an exact Gaussian process (tinygp) with a
Matérn-5/2 kernel and one length scale per input dimension, fitted by maximizing the marginal
likelihood, and batches of points proposed by maximizing expected improvement with the Kriging
believer (each chosen point is added with its predicted mean as if observed, so the next one
looks elsewhere).

Shapes are static: the observations live in a buffer of ``capacity`` rows, the unused ones with
an enormous noise, so one compiled function serves every round of a BO run.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..._extras import require

_IGNORED_NOISE = 1e8
"""The noise variance of an unused buffer row: it leaves the posterior unchanged to within
float precision."""


def _tinygp() -> Any:
    return require("tinygp", "molecules", "Bayesian optimization")


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class GPParams:
    """Hyperparameters on the standardized scale: log signal amplitude, log length scales
    ``[D]``, log noise deviation, and the constant mean."""

    log_amp: jax.Array
    log_scale: jax.Array
    log_noise: jax.Array
    mean: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class GPData:
    """Observations in a fixed-size buffer: inputs ``[C, D]``, standardized targets ``[C]``,
    and which rows are used ``[C]``."""

    x: jax.Array
    y: jax.Array
    used: jax.Array


def _process(params: GPParams, data: GPData) -> Any:
    tinygp = _tinygp()
    kernel = jnp.exp(2 * params.log_amp) * tinygp.kernels.Matern52(
        distance=tinygp.kernels.distance.L2Distance())
    noise = jnp.where(data.used, jnp.exp(2 * params.log_noise), _IGNORED_NOISE)
    return tinygp.GaussianProcess(kernel, data.x * jnp.exp(-params.log_scale), diag=noise,
                                  mean=params.mean)


def log_marginal_likelihood(params: GPParams, data: GPData) -> jax.Array:
    """``log p(y_used | x_used)`` (unused rows contribute a constant that has no gradient with
    respect to ``params`` beyond float precision)."""
    y = jnp.where(data.used, data.y, params.mean)
    return _process(params, data).log_probability(y)


def predict(params: GPParams, data: GPData, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Posterior mean and variance of the latent function at ``x`` ``[M, D]`` (standardized)."""
    return _predictor(params, data)(x)


def _predictor(params: GPParams, data: GPData):
    """``x -> (mean, var)`` with the kernel matrix factorized once (call it inside a loop)."""
    process = _process(params, data)
    y = jnp.where(data.used, data.y, params.mean)

    def at(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        _, cond = process.condition(y, x * jnp.exp(-params.log_scale))
        return cond.loc, jnp.maximum(cond.variance, 1e-12)
    return at


def expected_improvement(mean: jax.Array, var: jax.Array, best: jax.Array,
                         xi: float = 0.0) -> jax.Array:
    """``E[max(f - best - xi, 0)]`` for ``f ~ N(mean, var)`` (Jones et al. 1998)."""
    std = jnp.sqrt(var)
    gap = mean - best - xi
    z = gap / std
    return gap * jax.scipy.stats.norm.cdf(z) + std * jax.scipy.stats.norm.pdf(z)


@dataclasses.dataclass
class GP:
    """A fitted GP over a buffer of observations, with the targets' standardization."""

    params: GPParams
    data: GPData
    y_mean: float
    y_std: float
    count: int

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance at ``x`` ``[M, D]`` in the targets' units."""
        mean, var = jax.jit(predict)(self.params, self.data, jnp.asarray(x, jnp.float32))
        return (np.asarray(mean) * self.y_std + self.y_mean,
                np.asarray(var) * self.y_std**2)


def _init_params(dim: int, x: np.ndarray) -> GPParams:
    spread = np.maximum(np.std(x, axis=0), 1e-3)
    return GPParams(jnp.zeros(()), jnp.log(jnp.asarray(spread * math.sqrt(dim), jnp.float32)),
                    jnp.asarray(math.log(0.3), jnp.float32), jnp.zeros(()))


@jax.jit
def _fit_steps(params: GPParams, data: GPData, lr: jax.Array) -> tuple[GPParams, jax.Array]:
    optimizer = optax.adam(lr)

    def loss(p):
        return -log_marginal_likelihood(p, data) / jnp.maximum(jnp.sum(data.used), 1)

    def body(carry, _):
        p, state = carry
        value, grad = jax.value_and_grad(loss)(p)
        updates, state = optimizer.update(grad, state, p)
        p = optax.apply_updates(p, updates)
        # keep the noise and length scales in a range where the Cholesky stays well posed
        p = dataclasses.replace(p, log_noise=jnp.clip(p.log_noise, math.log(1e-3), 0.0),
                                log_scale=jnp.clip(p.log_scale, -3.0, 8.0),
                                log_amp=jnp.clip(p.log_amp, -3.0, 3.0))
        return (p, state), value

    (params, _), losses = jax.lax.scan(body, (params, optimizer.init(params)), None,
                                       length=_FIT_STEPS)
    return params, losses


_FIT_STEPS = 100


def fit_gp(x: np.ndarray, y: np.ndarray, *, capacity: int | None = None,
           rounds: int = 2, learning_rate: float = 0.05, init: GPParams | None = None) -> GP:
    """A GP fitted to ``x`` ``[N, D]``, ``y`` ``[N]`` (targets standardized; NaN rows
    dropped): ``rounds`` x 100 Adam steps on the marginal likelihood from ``init`` (default:
    unit amplitude, length scales ``sqrt(D)`` times each input's spread, noise 0.3).

    ``capacity`` (default ``N``) is the buffer's size: room for points added later with
    :func:`add_points` without recompiling.
    """
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float64)
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(y) < 2:
        raise ValueError(f"a GP needs at least 2 scored points, got {len(y)}")
    capacity = max(capacity or len(y), len(y))
    y_mean, y_std = float(np.mean(y)), float(np.std(y)) or 1.0
    data = _buffer(x, (y - y_mean) / y_std, capacity)
    params = init or _init_params(x.shape[1], x)
    return refit(GP(params, data, y_mean, y_std, len(y)), rounds=rounds,
                 learning_rate=learning_rate)


def refit(gp: GP, *, rounds: int = 1, learning_rate: float = 0.05) -> GP:
    """``gp`` with its hyperparameters re-optimized on its buffer (``rounds`` x 100 Adam steps
    from the current ones; the targets' standardization stays)."""
    params = gp.params
    for _ in range(rounds):
        params, _ = _fit_steps(params, gp.data, jnp.asarray(learning_rate, jnp.float32))
    return dataclasses.replace(gp, params=params)


def _buffer(x: np.ndarray, y: np.ndarray, capacity: int) -> GPData:
    n, d = x.shape
    bx = np.zeros((capacity, d), np.float32)
    by = np.zeros(capacity, np.float32)
    used = np.zeros(capacity, bool)
    bx[:n], by[:n], used[:n] = x, y, True
    return GPData(jnp.asarray(bx), jnp.asarray(by), jnp.asarray(used))


@functools.partial(jax.jit, static_argnames=("candidates", "restarts"))
def _choose_one(params: GPParams, data: GPData, count: jax.Array, best: jax.Array,
                key: jax.Array, low: jax.Array, high: jax.Array, lr: jax.Array, *,
                candidates: int, restarts: int) -> tuple[GPData, jax.Array]:
    """One Kriging-believer step: the EI maximizer (projected Adam from ``restarts`` of
    ``candidates`` uniform draws in ``[low, high]``), and the buffer with it added at row
    ``count`` with its predicted mean as its value."""
    optimizer = optax.adam(lr)
    at = _predictor(params, data)
    key_pool, key_pick = jax.random.split(key)
    pool = jax.random.uniform(key_pool, (candidates, low.shape[0]), jnp.float32, low, high)
    top = jax.lax.top_k(expected_improvement(*at(pool), best), candidates)[1]
    # half the starts at the best candidates, half at random other ones (other basins)
    others = jax.random.permutation(key_pick, top[restarts // 2 + restarts % 2:])
    starts = pool[jnp.concatenate([top[:restarts // 2 + restarts % 2],
                                   others[:restarts // 2]])]

    def neg_ei(x):
        return -jnp.sum(expected_improvement(*at(x), best))

    def body(carry, _):
        x, state = carry
        updates, state = optimizer.update(jax.grad(neg_ei)(x), state, x)
        return (jnp.clip(optax.apply_updates(x, updates), low, high), state), None

    (x, _), _ = jax.lax.scan(body, (starts, optimizer.init(starts)), None, length=50)
    mean, var = at(x)
    i = jnp.argmax(expected_improvement(mean, var, best))
    data = GPData(data.x.at[count].set(x[i]), data.y.at[count].set(mean[i]),
                  data.used.at[count].set(True))
    return data, x[i]


def propose(gp: GP, key: jax.Array, num: int, *, low: np.ndarray, high: np.ndarray,
            candidates: int = 500, restarts: int = 8, learning_rate: float = 0.05
            ) -> np.ndarray:
    """``num`` points ``[num, D]`` in the box ``[low, high]`` chosen one at a time by expected
    improvement over the best observation: each from ``restarts`` projected-gradient ascents
    (50 Adam steps) started at ``candidates`` uniform draws in the box (half of them the
    draws of highest EI, half picked at random from the others), then added
    to the GP with its predicted mean as its value (the Kriging believer), so the next one looks
    elsewhere. ``gp``'s buffer needs room for ``num`` more points (``fit_gp(capacity=...)``)."""
    if gp.count + num > gp.data.x.shape[0]:
        raise ValueError(f"the GP's buffer holds {gp.data.x.shape[0]} points: {gp.count} "
                         f"observed + {num} proposed do not fit; fit it with a larger capacity")
    if restarts > candidates:
        raise ValueError(f"restarts ({restarts}) cannot exceed candidates ({candidates})")
    low32, high32 = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
    data = gp.data
    best = jnp.max(jnp.where(data.used, data.y, -jnp.inf))
    chosen = []
    for i, k in enumerate(jax.random.split(key, num)):
        data, x = _choose_one(gp.params, data, jnp.asarray(gp.count + i), best, k, low32,
                              high32, jnp.asarray(learning_rate, jnp.float32),
                              candidates=candidates, restarts=restarts)
        chosen.append(np.asarray(x))
    return np.stack(chosen)


def add_points(gp: GP, x: np.ndarray, y: np.ndarray) -> GP:
    """``gp`` with observations ``x`` ``[K, D]``, ``y`` ``[K]`` (targets' units; NaN rows
    dropped) appended to its buffer, hyperparameters unchanged."""
    keep = np.isfinite(y)
    x, y = np.asarray(x, np.float32)[keep], np.asarray(y)[keep]
    if gp.count + len(y) > gp.data.x.shape[0]:
        raise ValueError(f"the GP's buffer holds {gp.data.x.shape[0]} points; "
                         f"{gp.count + len(y)} do not fit")
    idx = jnp.arange(gp.count, gp.count + len(y))
    data = GPData(gp.data.x.at[idx].set(x),
                  gp.data.y.at[idx].set(((y - gp.y_mean) / gp.y_std).astype(np.float32)),
                  gp.data.used.at[idx].set(True))
    return dataclasses.replace(gp, data=data, count=gp.count + len(y))
