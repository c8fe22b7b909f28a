"""The variational bound of a discrete-time DDPM (Ho et al. 2020, eq. 5)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ._process import DDPM
from ._samplers import Denoiser


def ddpm_vlb(denoiser: Denoiser, process: DDPM, y0: jax.Array, key: jax.Array, *,
             step: jax.Array | None = None) -> jax.Array:
    """An unbiased one-step estimate ``[B]`` of the negative variational bound (nats) of
    ``y0`` ``[B, ...]``: ``L_N + L_0 + (N - 1) L_{i-1}`` for one ``i`` uniform in ``2..N``.

    ``L_N = KL(q(y_N | y_0) || N(0, I))``; ``L_{i-1} = KL(q(y_{i-1} | y_i, y_0) || p(y_{i-1} |
    y_i))`` with the reverse variance ``beta~_i`` of the posterior, so that it is ``coef_i^2
    |y_0 - y0_hat|^2 / (2 beta~_i)``; the decoder ``L_0 = -log N(y_0; y0_hat(y_1), beta_1)``.

    Args:
      denoiser: ``(y, t) -> (y0_hat, eps_hat)`` (per-example ``t`` ``[B]`` allowed).
      process: the discrete-time process.
      y0: the data in model space.
      key: the step, the noise of ``y_i`` and of ``y_1``.
      step: ``[B]`` steps ``i`` in ``2..N`` in place of the random ones (their term is still
        multiplied by ``N - 1``).
    """
    n_steps = process.num_timesteps
    b, d = y0.shape[0], math.prod(y0.shape[1:])
    betas = process.betas().astype(y0.dtype)
    ab = jnp.exp(jnp.concatenate([jnp.zeros(1, y0.dtype), jnp.cumsum(jnp.log1p(-betas))]))

    def expand(a):
        return a.reshape((b,) + (1,) * (y0.ndim - 1))

    def sq(v):
        return jnp.sum(v.reshape(b, -1) ** 2, axis=1)

    key_i, key_eps, key_1 = jax.random.split(key, 3)
    prior = 0.5 * (ab[-1] * sq(y0) + d * (-ab[-1] - jnp.log1p(-ab[-1])))
    i = jax.random.randint(key_i, (b,), 2, n_steps + 1) if step is None else step
    eps = jax.random.normal(key_eps, y0.shape, y0.dtype)
    y_i = expand(jnp.sqrt(ab[i])) * y0 + expand(jnp.sqrt(1 - ab[i])) * eps
    y0_hat = denoiser(y_i, (i / n_steps).astype(y0.dtype))[0]
    var_post = betas[i - 1] * (1 - ab[i - 1]) / (1 - ab[i])
    coef = jnp.sqrt(ab[i - 1]) * betas[i - 1] / (1 - ab[i])
    middle = coef**2 * sq(y0 - y0_hat) / (2 * var_post)
    y_1 = jnp.sqrt(ab[1]) * y0 + jnp.sqrt(1 - ab[1]) * jax.random.normal(key_1, y0.shape,
                                                                         y0.dtype)
    t_1 = jnp.full((b,), 1 / n_steps, y0.dtype)
    decoder = (sq(y0 - denoiser(y_1, t_1)[0]) / (2 * betas[0])
               + 0.5 * d * (math.log(2 * math.pi) + jnp.log(betas[0])))
    return prior + (n_steps - 1) * middle + decoder
