"""Time-conditioned networks for diffusion and flow matching: a U-Net for images and an MLP for
vectors.

The U-Net is the DDPM architecture (Ho et al. 2020) as diffusers' ``UNet2DModel`` lays it out:
at each resolution ``num_res_blocks`` residual blocks (GroupNorm, SiLU, 3x3 convolutions, the
time embedding added between the convolutions, dropout), self-attention after each block at
the chosen resolutions, a stride-2 convolution down; a middle of residual block, attention,
residual block; then the mirror image upwards with ``num_res_blocks + 1`` blocks per
resolution, each fed the matching skip connection, and nearest-neighbour upsampling followed by
a 3x3 convolution. Class conditioning adds a learned label embedding to the time embedding;
the extra label ``num_classes`` is the null class of classifier-free guidance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
from flax import linen as nn

from ._conv import conv_kernel_init

Dtype = Any
TimeEmbedding = Literal["sinusoidal", "fourier"]


def sinusoidal_embedding(t: jax.Array, dim: int, max_period: float = 10_000.0) -> jax.Array:
    """Transformer positional features of the noise level ``t`` ``[B]`` -> ``[B, dim]``
    (``cos`` half first, as DDPM and diffusers with ``flip_sin_to_cos=True``)."""
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
    args = t.astype(jnp.float32)[:, None] * freqs[None]
    emb = jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)
    return jnp.pad(emb, ((0, 0), (0, dim % 2)))


def fourier_embedding(t: jax.Array, dim: int, scale: float = 16.0) -> jax.Array:
    """Gaussian Fourier features of ``t`` ``[B]`` -> ``[B, dim]`` (Song et al. 2021): fixed
    frequencies ``N(0, scale^2)``, the same in every model (drawn from ``PRNGKey(0)``, so they
    are constants, not parameters). ``t`` comes in the units the processes hand over (``1000 t``
    or ``250 ln sigma``), so it is divided by 1000 first."""
    freqs = scale * jax.random.normal(jax.random.PRNGKey(0), (dim // 2,))
    args = 2 * math.pi * (t.astype(jnp.float32) / 1000.0)[:, None] * freqs[None]
    emb = jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)
    return jnp.pad(emb, ((0, 0), (0, dim % 2)))


class TimeLabelEmbedding(nn.Module):
    """Noise level (and label) -> the embedding every block is conditioned on ``[B, dim]``."""

    dim: int
    base: int
    kind: TimeEmbedding = "sinusoidal"
    num_classes: int = 0
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, t: jax.Array, label: jax.Array | None) -> jax.Array:
        if self.kind == "sinusoidal":
            emb = sinusoidal_embedding(t, self.base)
        else:
            emb = fourier_embedding(t, self.base)
        emb = nn.Dense(self.dim, dtype=self.dtype)(emb)
        emb = nn.Dense(self.dim, dtype=self.dtype)(nn.silu(emb))
        if self.num_classes:
            if label is None:
                raise ValueError("this network is class-conditional: pass labels (int32 [B]; "
                                 f"{self.num_classes} is the null class)")
            emb = emb + nn.Embed(self.num_classes + 1, self.dim, dtype=self.dtype)(label)
        return emb


def _conv(features: int, dtype: Dtype, *, kernel: int = 3, stride: int = 1,
          zero: bool = False) -> nn.Conv:
    init = nn.initializers.zeros if zero else conv_kernel_init
    return nn.Conv(features, (kernel, kernel), strides=(stride, stride), padding="SAME",
                   kernel_init=init, dtype=dtype)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv, plus the projected time embedding, GroupNorm-SiLU-dropout-conv (the
    last convolution zero-initialized), and a 1x1 shortcut when the channels change."""

    features: int
    num_groups: int = 32
    dropout: float = 0.0
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, emb: jax.Array, train: bool) -> jax.Array:
        h = _conv(self.features, self.dtype)(nn.silu(self._norm(x)))
        h = h + nn.Dense(self.features, dtype=self.dtype)(nn.silu(emb))[:, None, None, :]
        h = nn.silu(self._norm(h))
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        h = _conv(self.features, self.dtype, zero=True)(h)
        if x.shape[-1] != self.features:
            x = _conv(self.features, self.dtype, kernel=1)(x)
        return x + h

    def _norm(self, x: jax.Array) -> jax.Array:
        return nn.GroupNorm(num_groups=math.gcd(self.num_groups, x.shape[-1]), dtype=self.dtype)(x)


class AttentionBlock(nn.Module):
    """GroupNorm, multi-head self-attention over the pixels, a zero-initialized output
    projection and a residual connection."""

    num_heads: int = 4
    num_groups: int = 32
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b, h, w, c = x.shape
        y = nn.GroupNorm(num_groups=math.gcd(self.num_groups, c), dtype=self.dtype)(x)
        y = nn.MultiHeadDotProductAttention(
            num_heads=self.num_heads, dtype=self.dtype,
            out_kernel_init=nn.initializers.zeros)(y.reshape(b, h * w, c))
        return x + y.reshape(b, h, w, c)


class UNet(nn.Module):
    """The DDPM U-Net: ``(x [B, H, W, C], t [B], label [B] | None) -> [B, H, W, out_channels]``.

    Attributes:
      channels: channels at the first resolution.
      channel_mult: one multiplier per resolution (its length sets the depth; H and W must be
        divisible by ``2 ** (len - 1)``).
      num_res_blocks: residual blocks per resolution on the way down.
      attention_resolutions: the spatial sizes (H) at which self-attention follows each block
        (the middle always has one).
      num_heads: attention heads.
      num_groups: GroupNorm groups (a layer whose channels it does not divide uses their
        greatest common divisor).
      dropout: dropout inside the residual blocks (training only).
      time_embedding: sinusoidal (DDPM) or Gaussian Fourier features (score SDEs).
      num_classes: labels it is conditioned on (0: unconditional); ``num_classes`` itself is
        the null label.
      out_channels: output channels (default: the input's).
      dtype: compute dtype.
    """

    channels: int = 64
    channel_mult: Sequence[int] = (1, 2, 2)
    num_res_blocks: int = 2
    attention_resolutions: Sequence[int] = (7,)
    num_heads: int = 4
    num_groups: int = 32
    dropout: float = 0.0
    time_embedding: TimeEmbedding = "sinusoidal"
    num_classes: int = 0
    out_channels: int | None = None
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array, label: jax.Array | None = None, *,
                 train: bool = False) -> jax.Array:
        emb = TimeLabelEmbedding(4 * self.channels, self.channels, self.time_embedding,
                                 self.num_classes, self.dtype)(t, label)
        block = dict(num_groups=self.num_groups, dropout=self.dropout, dtype=self.dtype)

        def attend(h: jax.Array) -> jax.Array:
            if h.shape[1] in self.attention_resolutions:
                h = AttentionBlock(self.num_heads, self.num_groups, self.dtype)(h)
            return h

        h = _conv(self.channels, self.dtype)(x.astype(self.dtype))
        skips = [h]
        for level, mult in enumerate(self.channel_mult):
            for _ in range(self.num_res_blocks):
                h = attend(ResBlock(self.channels * mult, **block)(h, emb, train))
                skips.append(h)
            if level < len(self.channel_mult) - 1:
                h = _conv(h.shape[-1], self.dtype, stride=2)(h)
                skips.append(h)
        h = ResBlock(h.shape[-1], **block)(h, emb, train)
        h = AttentionBlock(self.num_heads, self.num_groups, self.dtype)(h)
        h = ResBlock(h.shape[-1], **block)(h, emb, train)
        for level, mult in reversed(list(enumerate(self.channel_mult))):
            for _ in range(self.num_res_blocks + 1):
                h = jnp.concatenate([h, skips.pop()], axis=-1)
                h = attend(ResBlock(self.channels * mult, **block)(h, emb, train))
            if level > 0:
                b, hh, ww, c = h.shape
                h = jax.image.resize(h, (b, 2 * hh, 2 * ww, c), "nearest")
                h = _conv(c, self.dtype)(h)
        h = nn.silu(nn.GroupNorm(num_groups=math.gcd(self.num_groups, h.shape[-1]),
                                 dtype=self.dtype)(h))
        out = _conv(self.out_channels or x.shape[-1], self.dtype, zero=True)(h)
        return out.astype(jnp.promote_types(self.dtype, jnp.float32))


class TimeMLP(nn.Module):
    """The vector-data twin of :class:`UNet`: ``(x [B, D], t [B], label) -> [B, D]``, residual
    dense blocks (LayerNorm, SiLU, dense) each conditioned on the time(-label) embedding.

    Attributes:
      hidden: widths of the blocks (the first sets the embedding's width too).
      time_embedding: sinusoidal or Fourier features.
      num_classes: labels it is conditioned on (0: unconditional; ``num_classes`` is null).
      dropout: dropout inside the blocks (training only).
      dtype: compute dtype.
    """

    hidden: Sequence[int] = (256, 256, 256)
    time_embedding: TimeEmbedding = "sinusoidal"
    num_classes: int = 0
    dropout: float = 0.0
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array, label: jax.Array | None = None, *,
                 train: bool = False) -> jax.Array:
        width = self.hidden[0]
        emb = TimeLabelEmbedding(width, width, self.time_embedding, self.num_classes,
                                 self.dtype)(t, label)
        h = nn.Dense(width, dtype=self.dtype)(x.astype(self.dtype))
        for features in self.hidden:
            y = nn.Dense(features, dtype=self.dtype)(nn.silu(nn.LayerNorm(dtype=self.dtype)(h)))
            y = y + nn.Dense(features, dtype=self.dtype)(nn.silu(emb))
            y = nn.Dropout(self.dropout, deterministic=not train)(nn.silu(y))
            y = nn.Dense(features, dtype=self.dtype)(y)
            h = y + (h if h.shape[-1] == features else nn.Dense(features, dtype=self.dtype)(h))
        out = nn.Dense(x.shape[-1], kernel_init=nn.initializers.zeros, dtype=self.dtype)(
            nn.silu(nn.LayerNorm(dtype=self.dtype)(h)))
        return out.astype(jnp.promote_types(self.dtype, jnp.float32))
