"""What the network predicts, and how its output becomes the denoised data and the noise.

All four parameterizations work in the scale-free variables of Karras et al. (2022):
``x~ = x / alpha = x_0 + s eps`` with ``s = sigma / alpha``, so they apply to every process.

* ``eps``: the noise (DDPM); the loss is its mean squared error.
* ``x0``: the clean data.
* ``v``: ``cos(phi) eps - sin(phi) x_0`` with ``tan(phi) = s`` (Salimans & Ho 2022; on a VP
  process ``alpha eps - sigma x_0``).
* ``edm``: EDM's preconditioned denoiser ``D = c_skip x~ + c_out F(c_in x~, c_noise)``; its loss
  is the mean squared error of ``F`` against its effective target, which carries EDM's weight
  ``lambda(s) = (s^2 + sigma_data^2) / (s sigma_data)^2`` on the denoising error.

Every loss is the plain mean squared error of the prediction's own target: eps-prediction is
x0-prediction weighted by the signal-to-noise ratio, v by SNR + 1, edm by ``lambda``.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

Prediction = Literal["eps", "x0", "v", "edm"]
PREDICTIONS: tuple[str, ...] = ("eps", "x0", "v", "edm")


def expand(a: jax.Array, x: jax.Array) -> jax.Array:
    """``a`` ``[B]`` (or a scalar) broadcast against ``x`` ``[B, ...]``."""
    a = jnp.asarray(a, x.dtype)
    return a.reshape(a.shape + (1,) * (x.ndim - a.ndim))


def net_input(prediction: Prediction, x: jax.Array, alpha: jax.Array, sigma: jax.Array,
              sigma_data: float) -> jax.Array:
    """What the network sees: ``c_in x~`` for edm, else ``x~ / sqrt(1 + s^2)`` (which is ``x``
    itself on a VP process and keeps a VE process's input at unit scale)."""
    s = expand(sigma / alpha, x)
    x_tilde = x / expand(alpha, x)
    if prediction == "edm":
        return x_tilde / jnp.sqrt(s**2 + sigma_data**2)
    return x_tilde / jnp.sqrt(1 + s**2)


def net_time(prediction: Prediction, alpha: jax.Array, sigma: jax.Array,
             process_time: jax.Array) -> jax.Array:
    """The noise level the network sees: ``250 ln s`` for edm (``c_noise``), else the
    process's own (``process_time``)."""
    if prediction == "edm":
        return 250.0 * jnp.log(sigma / alpha)
    return process_time


def denoise(prediction: Prediction, out: jax.Array, x: jax.Array, alpha: jax.Array,
            sigma: jax.Array, sigma_data: float) -> tuple[jax.Array, jax.Array]:
    """``(x0_hat, eps_hat)`` from the network output ``out`` at ``x = alpha x_0 + sigma eps``."""
    a, sig = expand(alpha, x), expand(sigma, x)
    s, x_tilde = sig / a, x / a
    if prediction == "eps":
        return x_tilde - s * out, out
    if prediction == "x0":
        return out, (x_tilde - out) / s
    if prediction == "v":
        cos = 1 / jnp.sqrt(1 + s**2)
        sin = s * cos
        x_bar = cos * x_tilde
        return cos * x_bar - sin * out, sin * x_bar + cos * out
    if prediction == "edm":
        c_skip = sigma_data**2 / (s**2 + sigma_data**2)
        c_out = s * sigma_data / jnp.sqrt(s**2 + sigma_data**2)
        x0 = c_skip * x_tilde + c_out * out
        return x0, (x_tilde - x0) / s
    raise ValueError(f"unknown prediction {prediction!r}; use {', '.join(PREDICTIONS)}")


def target(prediction: Prediction, x0: jax.Array, eps: jax.Array, alpha: jax.Array,
           sigma: jax.Array, sigma_data: float) -> jax.Array:
    """The training target of the network output (the ``out`` that :func:`denoise` maps back to
    ``x0`` and ``eps`` exactly)."""
    s = expand(sigma / alpha, x0)
    if prediction == "eps":
        return eps
    if prediction == "x0":
        return x0
    if prediction == "v":
        cos = 1 / jnp.sqrt(1 + s**2)
        return cos * eps - s * cos * x0
    if prediction == "edm":
        c_skip = sigma_data**2 / (s**2 + sigma_data**2)
        c_out = s * sigma_data / jnp.sqrt(s**2 + sigma_data**2)
        return (x0 - c_skip * (x0 + s * eps)) / c_out
    raise ValueError(f"unknown prediction {prediction!r}; use {', '.join(PREDICTIONS)}")
