"""Spectral normalization (Miyato et al. 2018): weights divided by a power-iteration estimate of
their largest singular value, with the iteration's vector kept between calls.

The vector ``u`` lives in the ``batch_stats`` collection (the engine's non-trainable state), so a
train step passes ``mutable=["batch_stats"]`` and ``update_stats=True`` to advance it once per
update, and evaluation passes ``update_stats=False``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

Dtype = Any
Initializer = Callable[..., jax.Array]


def _l2_normalize(v: jax.Array, eps: float) -> jax.Array:
    return v * jax.lax.rsqrt(jnp.sum(v * v) + eps)


def power_iteration(
    w: jax.Array, u: jax.Array, n_steps: int = 1, eps: float = 1e-12
) -> tuple[jax.Array, jax.Array]:
    """Estimates the largest singular value of a matrix by power iteration.

    Args:
      w: ``[m, n]`` matrix.
      u: ``[n]`` starting vector (any non-zero vector; the previous call's result in training).
      n_steps: iterations (``v = normalize(w u)``, ``u = normalize(w^T v)``).
      eps: added to squared norms before normalizing.

    Returns:
      ``(sigma, u)``: the estimate ``v^T w u`` (a scalar, differentiable in ``w`` with ``u`` and
      ``v`` held fixed, as in Miyato et al.) and the new ``[n]`` vector (gradient-free).
    """
    u = jax.lax.stop_gradient(u)
    wd = jax.lax.stop_gradient(w)
    v = _l2_normalize(wd @ u, eps)
    for _ in range(n_steps):
        u = _l2_normalize(wd.T @ v, eps)
        v = _l2_normalize(wd @ u, eps)
    return v @ (w @ u), u


class _SpectralKernel(nn.Module):
    """Holds a kernel and returns it divided by its spectral-norm estimate."""

    shape: tuple[int, ...]
    kernel_init: Initializer
    n_steps: int = 1
    eps: float = 1e-12
    param_dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, update_stats: bool) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, self.shape, self.param_dtype)
        matrix = kernel.reshape(-1, self.shape[-1]).T  # [out, fan_in]
        u_var = self.variable(
            "batch_stats", "u",
            lambda: _l2_normalize(jax.random.normal(self.make_rng("params"), (matrix.shape[1],),
                                                    jnp.float32), self.eps))
        sigma, u = power_iteration(matrix, u_var.value, self.n_steps, self.eps)
        if update_stats and not self.is_initializing():
            u_var.value = u
        return kernel / sigma


class SpectralDense(nn.Module):
    """``nn.Dense`` with a spectrally normalized kernel: ``[..., in] -> [..., features]``.

    Attributes:
      features: output width.
      use_bias: add a bias (not normalized).
      n_steps: power iterations per call.
      kernel_init: kernel initializer.
      dtype: compute dtype.
    """

    features: int
    use_bias: bool = True
    n_steps: int = 1
    kernel_init: Initializer = nn.initializers.lecun_normal()
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, *, update_stats: bool) -> jax.Array:
        kernel = _SpectralKernel((x.shape[-1], self.features), self.kernel_init, self.n_steps,
                                 name="sn")(update_stats)
        y = jnp.dot(x.astype(self.dtype), kernel.astype(self.dtype))
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,)).astype(self.dtype)
        return y


class SpectralConv(nn.Module):
    """``nn.Conv`` (NHWC, ``SAME`` padding) with a spectrally normalized kernel.

    The kernel ``[kh, kw, in, out]`` is normalized as the ``[out, kh * kw * in]`` matrix, as in
    Miyato et al.

    Attributes:
      features: output channels.
      kernel_size: ``(kh, kw)``.
      strides: ``(sh, sw)``.
      use_bias: add a bias (not normalized).
      n_steps: power iterations per call.
      kernel_init: kernel initializer.
      dtype: compute dtype.
    """

    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] = (1, 1)
    use_bias: bool = True
    n_steps: int = 1
    kernel_init: Initializer = nn.initializers.lecun_normal()
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, *, update_stats: bool) -> jax.Array:
        shape = (*self.kernel_size, x.shape[-1], self.features)
        kernel = _SpectralKernel(shape, self.kernel_init, self.n_steps, name="sn")(update_stats)
        y = jax.lax.conv_general_dilated(
            x.astype(self.dtype), kernel.astype(self.dtype), tuple(self.strides), "SAME",
            dimension_numbers=("NHWC", "HWIO", "NHWC"))
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,)).astype(self.dtype)
        return y


class SpectralEmbed(nn.Module):
    """``nn.Embed`` with a spectrally normalized table: ``[...] int -> [..., features]``.

    The ``[num_embeddings, features]`` table is divided by its largest singular value, as the
    projection discriminator's class embedding in Miyato & Koyama (2018) (``SNEmbedID``).

    Attributes:
      num_embeddings: table rows (classes).
      features: embedding width.
      n_steps: power iterations per call.
      embedding_init: table initializer.
    """

    num_embeddings: int
    features: int
    n_steps: int = 1
    embedding_init: Initializer = nn.initializers.normal(1.0)

    @nn.compact
    def __call__(self, ids: jax.Array, *, update_stats: bool) -> jax.Array:
        table = _SpectralKernel((self.num_embeddings, self.features), self.embedding_init,
                                self.n_steps, name="sn")(update_stats)
        return jnp.take(table, ids, axis=0)
