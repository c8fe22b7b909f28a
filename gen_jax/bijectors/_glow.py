"""Glow's per-channel layers (Kingma & Dhariwal 2018): activation normalization and the invertible
1x1 convolution with an LU-decomposed weight. Both act on the last (channel) axis of
``[..., H, W, C]`` images (``event_ndims=3``) or ``[..., D]`` vectors (``event_ndims=1``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import distrax
import jax
import jax.numpy as jnp


def _as_params(cls, params: Any):
    """``params`` as the NamedTuple ``cls``: from itself, a mapping (Flax params) or a tuple."""
    if isinstance(params, cls):
        return params
    return cls(**params) if isinstance(params, Mapping) else cls(*params)


def _num_positions(x: jax.Array, event_ndims: int) -> int:
    """Pixels per event: the product of the event's non-channel dimensions."""
    return math.prod(x.shape[x.ndim - event_ndims: -1])


class ActNormParams(NamedTuple):
    """Per-channel ``log_scale [C]`` and ``shift [C]`` of :class:`ActNorm`."""

    log_scale: jax.Array
    shift: jax.Array


def actnorm_init(
    x: jax.Array, *, direction: Literal["forward", "inverse"], eps: float = 1e-6
) -> ActNormParams:
    """Data-dependent initialization: the parameters that make ActNorm's output on ``x`` have zero
    mean and unit variance per channel.

    ``direction`` says which way ``x`` flows through the layer. In a flow trained by maximum
    likelihood here, data flows through ``inverse`` (data -> latent, as in
    ``distrax.Transformed.log_prob``), so Glow's initialization is ``direction="inverse"``.
    Call it inside a Flax ``self.param`` initializer that closes over the layer's input batch, so
    that ``module.init(key, batch)`` initializes every ActNorm from the data it sees.

    Args:
      x: ``[..., C]`` a batch of inputs to the layer (``[B, H, W, C]`` images, ``[B, D]``
        vectors); statistics are taken over every axis but the last.
      direction: ``"forward"``: standardize ``ActNorm(params).forward(x)``; ``"inverse"``:
        standardize ``ActNorm(params).inverse(x)``.
      eps: added to the standard deviation.

    Returns:
      :class:`ActNormParams`: ``log_scale = -log(std + eps)``, ``shift = -mean / (std + eps)``
      (forward), or ``log_scale = log(std + eps)``, ``shift = mean`` (inverse).
    """
    axes = tuple(range(x.ndim - 1))
    mean = jnp.mean(x, axis=axes)
    log_std = jnp.log(jnp.std(x, axis=axes) + eps)
    if direction == "inverse":
        return ActNormParams(log_scale=log_std, shift=mean)
    if direction == "forward":
        return ActNormParams(log_scale=-log_std, shift=-mean * jnp.exp(-log_std))
    raise ValueError(f"direction must be 'forward' or 'inverse', got {direction!r}")


class ActNorm(distrax.Bijector):
    """``y = x * exp(log_scale) + shift`` per channel; ``log|det| = H * W * sum(log_scale)``."""

    def __init__(self, params: ActNormParams, *, event_ndims: int = 3):
        """Args: ``params`` per-channel :class:`ActNormParams` (or a mapping with its fields);
        ``event_ndims`` 3 (images) or 1."""
        self._params = _as_params(ActNormParams, params)
        super().__init__(event_ndims_in=event_ndims, is_constant_jacobian=True)

    def _log_det(self, x: jax.Array) -> jax.Array:
        log_det = _num_positions(x, self.event_ndims_in) * jnp.sum(self._params.log_scale)
        return jnp.broadcast_to(log_det, x.shape[: x.ndim - self.event_ndims_in])

    def forward_and_log_det(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        self._check_forward_input_shape(x)
        log_scale, shift = self._params
        return x * jnp.exp(log_scale) + shift, self._log_det(x)

    def inverse_and_log_det(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        self._check_inverse_input_shape(y)
        log_scale, shift = self._params
        return (y - shift) * jnp.exp(-log_scale), -self._log_det(y)


class LUConvParams(NamedTuple):
    """The LU parameterization ``W = P L (U + diag(sign_s * exp(log_s)))`` of a ``[C, C]`` weight.

    ``permutation`` (``P[i, permutation[i]] = 1``) and ``sign_s`` are fixed at initialization:
    keep them out of the optimizer (e.g. ``optax.masked``), or leave them in: their gradients are
    zero. ``lower`` and ``upper`` are read through their strictly lower/upper triangles only.
    """

    permutation: jax.Array  # [C] int
    lower: jax.Array  # [C, C]
    upper: jax.Array  # [C, C]
    log_s: jax.Array  # [C]
    sign_s: jax.Array  # [C]


def lu_conv_init(key: jax.Array, channels: int, dtype=jnp.float32) -> LUConvParams:
    """The LU parameters of a random rotation (Glow's initialization); log-det 0.

    Pure jax, so ``jax.vmap(lambda k: lu_conv_init(k, c))(keys)`` stacks them for :class:`Scan`.
    """
    q, _ = jnp.linalg.qr(jax.random.normal(key, (channels, channels), dtype))
    p, lower, upper = jax.scipy.linalg.lu(q)
    diag = jnp.diagonal(upper)
    return LUConvParams(
        permutation=jnp.argmax(p, axis=1).astype(jnp.int32),
        lower=jnp.tril(lower, -1),
        upper=jnp.triu(upper, 1),
        log_s=jnp.log(jnp.abs(diag)),
        sign_s=jnp.sign(diag),
    )


def lu_conv_weight(params: LUConvParams) -> jax.Array:
    """The ``[C, C]`` weight ``W`` (``y = W x`` per pixel)."""
    lower, upper = _triangles(params)
    return jnp.take(lower @ upper, params.permutation, axis=0)  # P M = M[permutation]


def _triangles(params: LUConvParams) -> tuple[jax.Array, jax.Array]:
    channels = params.log_s.shape[-1]
    eye = jnp.eye(channels, dtype=params.lower.dtype)
    lower = jnp.tril(params.lower, -1) + eye
    s = jax.lax.stop_gradient(params.sign_s) * jnp.exp(params.log_s)
    upper = jnp.triu(params.upper, 1) + s * eye
    return lower, upper


class InvertibleConv1x1(distrax.Bijector):
    """Glow's invertible 1x1 convolution, ``y[h, w] = W x[h, w]``, with ``W`` in LU form so that
    ``log|det| = H * W * sum(log_s)`` costs O(C) and the inverse two triangular solves."""

    def __init__(self, params: LUConvParams, *, event_ndims: int = 3):
        """Args: ``params`` from :func:`lu_conv_init`; ``event_ndims`` 3 (images) or 1."""
        self._params = _as_params(LUConvParams, params)
        super().__init__(event_ndims_in=event_ndims, is_constant_jacobian=True)

    def _log_det(self, x: jax.Array) -> jax.Array:
        log_det = _num_positions(x, self.event_ndims_in) * jnp.sum(self._params.log_s)
        return jnp.broadcast_to(log_det, x.shape[: x.ndim - self.event_ndims_in])

    def forward_and_log_det(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        self._check_forward_input_shape(x)
        return x @ lu_conv_weight(self._params).T, self._log_det(x)

    def inverse_and_log_det(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        self._check_inverse_input_shape(y)
        # W^{-1} = U^{-1} L^{-1} P^T, formed once ([C, C]) and applied to every pixel.
        lower, upper = _triangles(self._params)
        eye = jnp.eye(lower.shape[0], dtype=lower.dtype)
        l_inv = jax.scipy.linalg.solve_triangular(lower, eye, lower=True, unit_diagonal=True)
        m_inv = jax.scipy.linalg.solve_triangular(upper, l_inv, lower=False)  # (L U)^{-1}
        y = jnp.take(y, jnp.argsort(self._params.permutation), axis=-1)  # P^T y
        return y @ m_inv.T, -self._log_det(y)
