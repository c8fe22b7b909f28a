"""Ordinary differential equations of the continuous-time families: fixed-step and adaptive
solves of ``dx/dt = field(x, t)`` and the exact log-likelihood through the instantaneous
change of variables (Chen et al. 2018; FFJORD, Grathwohl et al. 2019).

``field(x, t)`` takes a batch ``x`` ``[B, ...]`` and a scalar time and acts on each example
independently (no batch statistics), which is what lets one Jacobian-vector product with a
tangent shared by the batch give every example's own directional derivative.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp

Field = Callable[[jax.Array, jax.Array], jax.Array]
Divergence = Literal["exact", "gaussian", "rademacher"]


def fixed_step(field: Field, x: jax.Array, times: jax.Array,
               method: Literal["euler", "heun"] = "euler") -> jax.Array:
    """Integrates from ``times[0]`` to ``times[-1]`` on the given grid (either direction).

    Args:
      field: the vector field.
      x: the state at ``times[0]``.
      times: ``[K + 1]`` monotone times.
      method: euler (K evaluations) or heun (the explicit trapezoid, 2K evaluations).

    Returns:
      The state at ``times[-1]``.
    """

    def step(x, ts):
        t, s = ts
        d = field(x, t)
        if method == "euler":
            return x + (s - t) * d, None
        x_euler = x + (s - t) * d
        return x + (s - t) * 0.5 * (d + field(x_euler, s)), None

    if method not in ("euler", "heun"):
        raise ValueError(f"unknown fixed-step method {method!r}; use euler or heun")
    x, _ = jax.lax.scan(step, x, jnp.stack([times[:-1], times[1:]], axis=1))
    return x


def adaptive(field: Field, x: jax.Array, t0: float, t1: float, *, rtol: float = 1e-5,
             atol: float = 1e-5, max_steps: int = 4096) -> tuple[jax.Array, jax.Array]:
    """Solves from ``t0`` to ``t1`` with ``diffrax``'s Dormand-Prince 5(4) and a PID step-size
    controller (the RK45 of Song et al. 2021's likelihoods and samples).

    Returns:
      ``(x(t1), nfe)``: the state and the number of field evaluations (``6`` per attempted
      step plus the first: Dormand-Prince reuses its last stage).
    """
    import diffrax  # noqa: PLC0415  (loaded only by the adaptive solver)

    term = diffrax.ODETerm(lambda t, y, args: field(y, t))
    sol = diffrax.diffeqsolve(
        term, diffrax.Dopri5(), t0=t0, t1=t1, dt0=None, y0=x,
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        saveat=diffrax.SaveAt(t1=True), max_steps=max_steps)
    return jax.tree.map(lambda y: y[0], sol.ys), 6 * sol.stats["num_steps"] + 1


def divergence_fn(field: Field, kind: Divergence) -> Callable[..., tuple[jax.Array, jax.Array]]:
    """``div(x, t, noise) -> (field(x, t), divergence [B])``.

    ``exact``: the trace of each example's Jacobian, one forward-mode product per data
    dimension (for small dimension); ``gaussian``/``rademacher``: Hutchinson's unbiased estimate
    ``noise^T J noise`` with one product (``noise`` drawn once per solve, as in FFJORD).
    """
    if kind == "exact":
        def div(x, t, noise):
            del noise
            flat_dim = x[0].size

            def column(i):  # d field / d x_i for every example at once
                tangent = jnp.zeros_like(x).reshape(x.shape[0], -1).at[:, i].set(1.0)
                _, jvp = jax.jvp(lambda y: field(y, t), (x,), (tangent.reshape(x.shape),))
                return jvp.reshape(x.shape[0], -1)[:, i]

            return field(x, t), jnp.sum(jax.vmap(column)(jnp.arange(flat_dim)), axis=0)

        return div

    def hutchinson(x, t, noise):
        f, jvp = jax.jvp(lambda y: field(y, t), (x,), (noise,))
        return f, jnp.sum((jvp * noise).reshape(x.shape[0], -1), axis=1)

    return hutchinson


def log_likelihood(field: Field, x: jax.Array, t_data: float, t_noise: float,
                   prior_log_prob: Callable[[jax.Array], jax.Array], key: jax.Array, *,
                   divergence: Divergence = "exact", rtol: float = 1e-5, atol: float = 1e-5,
                   max_steps: int = 4096) -> tuple[jax.Array, jax.Array]:
    """``log p(x)`` ``[B]`` of the density the flow ``field`` carries from the prior at
    ``t_noise`` to ``t_data``: ``log p(x) = log p_prior(x(t_noise)) + int_{t_data}^{t_noise}
    div field(x(t), t) dt``, solved adaptively (:func:`adaptive`).

    Args:
      field: the probability-flow (or flow-matching) vector field.
      x: ``[B, ...]`` points at ``t_data``.
      t_data: the data end of time.
      t_noise: the prior's end of time.
      prior_log_prob: ``z [B, ...] -> [B]``.
      key: draws Hutchinson's noise (unused for ``exact``).
      divergence: exact, or Hutchinson with Gaussian or Rademacher noise.
      rtol, atol: the solver's tolerances.
      max_steps: the solver's step budget.

    Returns:
      ``(log_p [B], nfe)``.
    """
    if divergence not in ("exact", "gaussian", "rademacher"):
        raise ValueError(f"unknown divergence {divergence!r}; use exact, gaussian or rademacher")
    if divergence == "gaussian":
        noise = jax.random.normal(key, x.shape, x.dtype)
    elif divergence == "rademacher":
        noise = jax.random.rademacher(key, x.shape).astype(x.dtype)
    else:
        noise = None
    div = divergence_fn(field, divergence)

    def augmented(state, t):
        y, _ = state
        f, d = div(y, t, noise)
        return f, d

    (z, integral), nfe = adaptive(augmented, (x, jnp.zeros(x.shape[0], x.dtype)), t_data,
                                  t_noise, rtol=rtol, atol=atol, max_steps=max_steps)
    return prior_log_prob(z) + integral, nfe


def gaussian_prior(std: jax.Array | float) -> Callable[[jax.Array], jax.Array]:
    """``z [B, ...] -> log N(z; 0, std^2 I)`` ``[B]``."""

    def log_prob(z: jax.Array) -> jax.Array:
        flat = z.reshape(z.shape[0], -1)
        d = flat.shape[1]
        return (-0.5 * jnp.sum(flat**2, axis=1) / std**2
                - d * (jnp.log(std) + 0.5 * jnp.log(2 * jnp.pi)))

    return log_prob
