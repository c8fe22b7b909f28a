"""Image-to-image networks: pix2pix's U-Net and CycleGAN's residual generator, and the
PatchGAN discriminator both use (Isola et al. 2017, Zhu et al. 2017).

Every network takes and returns images on the ``[-1, 1]`` scale the papers use; the families
convert from and to the data's ``[0, 1]``. Normalization is instance normalization (each
image's own statistics, as CycleGAN, and pix2pix at its batch size of 1), so nothing depends
on the batch and there are no running statistics; a convolution followed by one has no bias
(the normalization removes it: its gradient would be zero).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from ...nn import output_dtype

Dtype = Any


def _norm(dtype: Dtype) -> nn.Module:
    return nn.InstanceNorm(dtype=dtype)


class UNetGenerator(nn.Module):
    """pix2pix's encoder-decoder with skip connections: ``depth`` 4x4 stride-2 convolutions
    (instance norm after all but the first, LeakyReLU 0.2), then as many 4x4 stride-2
    transposed convolutions (instance norm, ReLU, dropout on the ``dropout_layers`` innermost
    ones in training), each concatenated with the encoder's map of its size, and a tanh output.

    Attributes:
      out_channels: channels of the output image.
      features: channels of the first layer, doubled per level up to ``8 * features``.
      depth: levels; the height and width must be divisible by ``2**depth``.
      dropout: dropout rate of the innermost decoder layers in training (the paper's noise).
      dropout_layers: how many decoder layers, from the innermost, have dropout (3 in the
        paper).
    """

    out_channels: int
    features: int = 64
    depth: int = 2
    dropout: float = 0.5
    dropout_layers: int = 3
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        h = x.astype(self.dtype)
        skips = []
        widths = [self.features * min(2**i, 8) for i in range(self.depth)]
        for i, width in enumerate(widths):
            h = nn.Conv(width, (4, 4), strides=2, padding="SAME", use_bias=not i,
                        dtype=self.dtype)(h)
            if i:
                h = _norm(self.dtype)(h)
            h = nn.leaky_relu(h, 0.2)
            skips.append(h)
        for i, width in enumerate(reversed(widths[:-1])):
            h = nn.ConvTranspose(width, (4, 4), strides=(2, 2), padding="SAME", use_bias=False,
                                 dtype=self.dtype)(h)
            h = nn.relu(_norm(self.dtype)(h))
            if i < self.dropout_layers and self.dropout:
                h = nn.Dropout(self.dropout, deterministic=not train)(h)
            h = jnp.concatenate([h, skips[-2 - i]], axis=-1)
        h = nn.ConvTranspose(self.out_channels, (4, 4), strides=(2, 2), padding="SAME",
                             dtype=self.dtype)(h)
        return jnp.tanh(h.astype(output_dtype(self.dtype)))


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with instance norm and a ReLU between, added to the input."""

    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        width = x.shape[-1]
        h = nn.relu(_norm(self.dtype)(nn.Conv(width, (3, 3), use_bias=False,
                                              dtype=self.dtype)(x)))
        h = _norm(self.dtype)(nn.Conv(width, (3, 3), use_bias=False, dtype=self.dtype)(h))
        return x + h


class ResNetGenerator(nn.Module):
    """CycleGAN's generator (Johnson et al. 2016's): a 7x7 convolution, ``depth`` 3x3 stride-2
    convolutions doubling the channels, ``blocks`` residual blocks, as many stride-2 transposed
    convolutions back, and a 7x7 convolution with tanh; instance norm and ReLU throughout.
    The height and width must be divisible by ``2**depth``.
    """

    out_channels: int
    features: int = 64
    depth: int = 2
    blocks: int = 6
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        del train  # no dropout, no running statistics
        h = nn.relu(_norm(self.dtype)(nn.Conv(self.features, (7, 7), use_bias=False,
                                              dtype=self.dtype)(x.astype(self.dtype))))
        for i in range(self.depth):
            h = nn.Conv(self.features * 2 ** (i + 1), (3, 3), strides=2, use_bias=False,
                        dtype=self.dtype)(h)
            h = nn.relu(_norm(self.dtype)(h))
        for _ in range(self.blocks):
            h = ResidualBlock(self.dtype)(h)
        for i in reversed(range(self.depth)):
            h = nn.ConvTranspose(self.features * 2**i, (3, 3), strides=(2, 2), padding="SAME",
                                 use_bias=False, dtype=self.dtype)(h)
            h = nn.relu(_norm(self.dtype)(h))
        h = nn.Conv(self.out_channels, (7, 7), dtype=self.dtype)(h)
        return jnp.tanh(h.astype(output_dtype(self.dtype)))


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``layers`` 4x4 stride-2 convolutions (``features`` doubling, instance norm
    after the first, LeakyReLU 0.2), one 4x4 stride-1 convolution, and a 4x4 stride-1
    convolution to one logit per patch: ``[B, H / 2**layers, W / 2**layers]``."""

    features: int = 64
    layers: int = 3
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = x.astype(self.dtype)
        for i in range(self.layers):
            h = nn.Conv(self.features * min(2**i, 8), (4, 4), strides=2, padding="SAME",
                        use_bias=not i, dtype=self.dtype)(h)
            if i:
                h = _norm(self.dtype)(h)
            h = nn.leaky_relu(h, 0.2)
        h = nn.Conv(self.features * min(2**self.layers, 8), (4, 4), padding="SAME",
                    use_bias=False, dtype=self.dtype)(h)
        h = nn.leaky_relu(_norm(self.dtype)(h), 0.2)
        h = nn.Conv(1, (4, 4), padding="SAME", dtype=self.dtype)(h)
        return h[..., 0].astype(output_dtype(self.dtype))
