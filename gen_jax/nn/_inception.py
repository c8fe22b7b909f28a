"""Inception-v3 as the FID literature uses it: the TensorFlow graph of 2015-12-05 (TF-FID /
TTUR, pytorch-fid, clean-fid and StyleGAN's metrics all load these weights).

The network differs from torchvision's Inception-v3 in ways that change FID: convolutions
without bias followed by batch norm without scale (epsilon 1e-3), average pools that do not
count padding, and a max pool (not an average pool) in the last block's pooling branch. The
parameter names mirror the TorchScript port (``mixed_4/tower_1/conv_2``), so the weights
convert by renaming (:mod:`gen_jax.metrics`). Input: ``[B, 299, 299, 3]`` float32 in
TensorFlow's range ``[-1, 0.9921875]`` (``(x - 128) / 128`` of 8-bit values); output: the
2048-d ``pool_3`` features.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

BN_EPSILON = 1e-3
INCEPTION_SIZE = 299
INCEPTION_FEATURES = 2048


class ConvBN(nn.Module):
    """Convolution (no bias), batch norm with frozen statistics and no scale, ReLU.

    Attributes:
      features: output channels.
      kernel: ``(height, width)``.
      stride: the same in both directions.
      padding: ``(rows, columns)`` of zeros on each side.
    """

    features: int
    kernel: tuple[int, int] = (1, 1)
    stride: int = 1
    padding: tuple[int, int] = (0, 0)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", nn.initializers.zeros,
                            (*self.kernel, x.shape[-1], self.features))
        beta = self.param("beta", nn.initializers.zeros, (self.features,))
        mean = self.param("mean", nn.initializers.zeros, (self.features,))
        var = self.param("var", nn.initializers.ones, (self.features,))
        (ph, pw) = self.padding
        y = jax.lax.conv_general_dilated(
            x, kernel.astype(x.dtype), (self.stride, self.stride), ((ph, ph), (pw, pw)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=jax.lax.Precision.HIGHEST)
        scale = jax.lax.rsqrt(var + BN_EPSILON)
        return nn.relu(y * scale + (beta - mean * scale))


def _same(kernel: tuple[int, int]) -> tuple[int, int]:
    return (kernel[0] // 2, kernel[1] // 2)


class Tower(nn.Module):
    """A branch: an optional 3x3 pool, then ``ConvBN``s named ``conv``, ``conv_1``, ...

    Attributes:
      layers: ``(features, kernel, stride)`` per convolution; stride 1 pads to keep the size,
        stride 2 does not pad.
      pool: ``"avg"`` (3x3, stride 1, padding not counted), ``"max"`` (3x3, stride 1) or None.
    """

    layers: Sequence[tuple[int, tuple[int, int], int]]
    pool: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.pool is not None:
            x = _pool_3x3(x, self.pool)
        for i, (features, kernel, stride) in enumerate(self.layers):
            padding = _same(kernel) if stride == 1 else (0, 0)
            x = ConvBN(features, kernel, stride, padding,
                       name="conv" if i == 0 else f"conv_{i}")(x)
        return x


def _pool_3x3(x: jax.Array, pool: str) -> jax.Array:
    """3x3 pool with stride 1 that keeps the size; the average does not count the padding."""
    if pool == "avg":
        return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)), count_include_pad=False)
    return nn.max_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)))


def _max_pool_2(x: jax.Array) -> jax.Array:
    return nn.max_pool(x, (3, 3), (2, 2))


class InceptionA(nn.Module):
    """35x35 block: 1x1, 5x5, double 3x3 and average-pool branches."""

    pool_features: int

    @nn.compact
    def __call__(self, x):
        return jnp.concatenate([
            ConvBN(64, name="conv")(x),
            Tower(((48, (1, 1), 1), (64, (5, 5), 1)), name="tower")(x),
            Tower(((64, (1, 1), 1), (96, (3, 3), 1), (96, (3, 3), 1)), name="tower_1")(x),
            Tower(((self.pool_features, (1, 1), 1),), pool="avg", name="tower_2")(x),
        ], axis=-1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17."""

    @nn.compact
    def __call__(self, x):
        return jnp.concatenate([
            ConvBN(384, (3, 3), stride=2, name="conv")(x),
            Tower(((64, (1, 1), 1), (96, (3, 3), 1), (96, (3, 3), 2)), name="tower")(x),
            _max_pool_2(x),
        ], axis=-1)


class InceptionC(nn.Module):
    """17x17 block: 1x1, factorized 7x7 and double 7x7, and average-pool branches."""

    channels_7x7: int

    @nn.compact
    def __call__(self, x):
        c = self.channels_7x7
        return jnp.concatenate([
            ConvBN(192, name="conv")(x),
            Tower(((c, (1, 1), 1), (c, (1, 7), 1), (192, (7, 1), 1)), name="tower")(x),
            Tower(((c, (1, 1), 1), (c, (7, 1), 1), (c, (1, 7), 1), (c, (7, 1), 1),
                   (192, (1, 7), 1)), name="tower_1")(x),
            Tower(((192, (1, 1), 1),), pool="avg", name="tower_2")(x),
        ], axis=-1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8."""

    @nn.compact
    def __call__(self, x):
        return jnp.concatenate([
            Tower(((192, (1, 1), 1), (320, (3, 3), 2)), name="tower")(x),
            Tower(((192, (1, 1), 1), (192, (1, 7), 1), (192, (7, 1), 1), (192, (3, 3), 2)),
                  name="tower_1")(x),
            _max_pool_2(x),
        ], axis=-1)


class InceptionE(nn.Module):
    """8x8 block with split 1x3 / 3x1 branches; ``pool`` is ``"avg"`` in ``mixed_9`` and
    ``"max"`` in ``mixed_10`` (as in the TensorFlow graph)."""

    pool: str

    @nn.compact
    def __call__(self, x):
        a = ConvBN(384, name="tower_conv")(x)
        b = ConvBN(448, name="tower_1_conv")(x)
        b = ConvBN(384, (3, 3), padding=(1, 1), name="tower_1_conv_1")(b)
        return jnp.concatenate([
            ConvBN(320, name="conv")(x),
            ConvBN(384, (1, 3), padding=(0, 1), name="tower_mixed_conv")(a),
            ConvBN(384, (3, 1), padding=(1, 0), name="tower_mixed_conv_1")(a),
            ConvBN(384, (1, 3), padding=(0, 1), name="tower_1_mixed_conv")(b),
            ConvBN(384, (3, 1), padding=(1, 0), name="tower_1_mixed_conv_1")(b),
            ConvBN(192, name="tower_2_conv")(_pool_3x3(x, self.pool)),
        ], axis=-1)


class InceptionV3FID(nn.Module):
    """The FID Inception network up to ``pool_3``: ``[B, 299, 299, 3]`` -> ``[B, 2048]``.

    The input is in TensorFlow's range ``[-1, 0.9921875]``; resizing and scaling images to it is
    :class:`gen_jax.metrics.InceptionFeatures`'s job.
    """

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.shape[1:] != (INCEPTION_SIZE, INCEPTION_SIZE, 3):
            raise ValueError(f"the FID Inception network takes [B, 299, 299, 3] inputs, got "
                             f"{list(x.shape)}; resize first (gen_jax.metrics.InceptionFeatures "
                             "does)")
        x = ConvBN(32, (3, 3), stride=2, name="conv")(x)
        x = ConvBN(32, (3, 3), name="conv_1")(x)
        x = ConvBN(64, (3, 3), padding=(1, 1), name="conv_2")(x)
        x = _max_pool_2(x)
        x = ConvBN(80, name="conv_3")(x)
        x = ConvBN(192, (3, 3), name="conv_4")(x)
        x = _max_pool_2(x)
        for i, pool_features in enumerate((32, 64, 64)):
            x = InceptionA(pool_features, name="mixed" if i == 0 else f"mixed_{i}")(x)
        x = InceptionB(name="mixed_3")(x)
        for i, channels in enumerate((128, 160, 160, 192)):
            x = InceptionC(channels, name=f"mixed_{4 + i}")(x)
        x = InceptionD(name="mixed_8")(x)
        x = InceptionE("avg", name="mixed_9")(x)
        x = InceptionE("max", name="mixed_10")(x)
        return jnp.mean(x, axis=(1, 2))  # the 8x8 average pool
