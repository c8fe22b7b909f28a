"""Generator and discriminator networks of the GAN family: MLP (PacGAN's toy nets) and DCGAN.

Both take their settings from a :class:`~gen_jax.models.GANConfig` (fields ``arch``, ``g_*``,
``d_*``, ``kernel_size``, ``batch_norm``, ``spectral_norm``, ``init_std``, ``upsample``).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from ...nn import (
    ConditionalBatchNorm,
    GroupedBatchNorm,
    SpectralConv,
    SpectralDense,
    SpectralEmbed,
    SubpixelConvTranspose,
    conv_kernel_init,
    maxout,
    output_dtype,
)

Dtype = Any
_lecun_normal = nn.initializers.lecun_normal()


def kernel_init(std: float | None):
    """Normal(0, std) kernels (DCGAN, PacGAN: 0.02), or LeCun normal when ``std`` is None.

    Drawn as a 2-D ``[fan_in, out]`` array and reshaped, which XLA:CPU compiles much faster than
    a 4-D draw (see :func:`gen_jax.nn.conv_kernel_init`).
    """
    if std is None:
        return conv_kernel_init

    def init(key, shape, dtype=jnp.float32):
        flat = (math.prod(shape[:-1]), shape[-1])
        return (std * jax.random.normal(key, flat, dtype)).reshape(shape)

    return init


def pack(x: jax.Array, pac: int) -> jax.Array:
    """PacGAN packing: groups of ``pac`` consecutive examples joined into one.

    ``[B, H, W, C] -> [B / pac, H, W, pac * C]`` (stacked as channels) or
    ``[B, *shape] -> [B / pac, pac * prod(shape)]`` (concatenated features).
    """
    if pac == 1:
        return x
    b = x.shape[0]
    if b % pac:
        raise ValueError(f"cannot pack {b} examples in groups of pac={pac}; use a multiple")
    if x.ndim == 4:
        _, h, w, c = x.shape
        return x.reshape(b // pac, pac, h, w, c).transpose(0, 2, 3, 1, 4).reshape(
            b // pac, h, w, pac * c)
    return x.reshape(b // pac, -1)


class Generator(nn.Module):
    """``z`` ``[N, latent]`` (and labels ``[N]``) -> ``[N, *shape]`` in model space.

    mlp: dense hidden layers ``g_hidden``, each followed by batch norm (when ``batch_norm``;
    the dense layer then has no bias, as in PacGAN) and ReLU, then a linear output. With
    ``pack_batch_norm`` (and ``pac > 1``) training normalizes each pack position's examples
    with their own statistics (:class:`~gen_jax.nn.GroupedBatchNorm`).
    dcgan: dense to a ``H / 2^u x W / 2^u x g_channels[0]`` grid (``u = len(g_channels) - 1``),
    BN-ReLU, a stride-1 ``k x k`` convolution to ``g_channels[1]``, BN-ReLU, then stride-2
    transposed ``k x k`` convolutions to ``g_channels[2:]`` (BN-ReLU) and to the data's channels.
    Image outputs go through tanh (model space ``[-1, 1]``); others are linear.
    A conditional generator sees the one-hot label beside ``z`` and uses conditional batch norm.

    Attributes:
      config: the family's :class:`GANConfig`.
      shape: shape of one example.
      num_classes: label classes (0: unconditional).
      image: tanh output (data in ``[0, 1]``, model space ``[-1, 1]``).
      dtype: compute dtype; samples come out in :func:`~gen_jax.nn.output_dtype` of it.
      axis_name: in training, average the batch-norm statistics over this mapped axis
        (cross-replica batch norm under ``pmap``), so that a mapped step normalizes over the
        global batch as a ``jit`` step does; None: the batch in hand.
    """

    config: Any
    shape: tuple[int, ...]
    num_classes: int = 0
    image: bool = False
    dtype: Dtype = jnp.float32
    axis_name: str | None = None

    def _norm(self, h, label, train, index):
        """The ``index``-th batch norm; named ``BatchNorm_{index}`` whether grouped or not, so
        that both share one variable tree (and checkpoints)."""
        cfg = self.config
        if not cfg.batch_norm:
            return h
        axis = self.axis_name
        if self.num_classes:
            return ConditionalBatchNorm(self.num_classes, momentum=cfg.bn_momentum,
                                        axis_name=axis)(h, label, train=train)
        name = f"BatchNorm_{index}"
        if cfg.pack_batch_norm and cfg.pac > 1:
            return GroupedBatchNorm(cfg.pac, momentum=cfg.bn_momentum, axis_name=axis,
                                    name=name)(h, train=train)
        return nn.BatchNorm(use_running_average=not train, momentum=cfg.bn_momentum,
                            axis_name=axis, name=name)(h)

    @nn.compact
    def __call__(self, z: jax.Array, label: jax.Array | None = None, *, train: bool) -> jax.Array:
        cfg = self.config
        init = kernel_init(cfg.init_std)
        bias = not cfg.batch_norm
        n = z.shape[0]
        h = z.astype(self.dtype)
        if self.num_classes:
            h = jnp.concatenate([h, jax.nn.one_hot(label, self.num_classes, dtype=h.dtype)], -1)
        if cfg.arch == "mlp":
            for i, width in enumerate(cfg.g_hidden):
                h = nn.Dense(width, use_bias=bias, kernel_init=init, dtype=self.dtype)(h)
                h = nn.relu(self._norm(h, label, train, i))
            out = nn.Dense(math.prod(self.shape), kernel_init=init, dtype=self.dtype)(h)
            out = out.reshape(n, *self.shape)
        else:
            height, width, channels = self.shape
            ch = cfg.g_channels
            f = 2 ** (len(ch) - 1)
            k = cfg.kernel_size
            h = nn.Dense(height // f * width // f * ch[0], use_bias=bias, kernel_init=init,
                         dtype=self.dtype)(h)
            h = nn.relu(self._norm(h.reshape(n, height // f, width // f, ch[0]), label, train,
                                   0))
            h = nn.Conv(ch[1], (k, k), padding="SAME", use_bias=bias, kernel_init=init,
                        dtype=self.dtype)(h)
            h = nn.relu(self._norm(h, label, train, 1))
            for i, c in enumerate([*ch[2:], channels]):
                last = i == len(ch) - 2
                up = (SubpixelConvTranspose(c, k, use_bias=bias or last, kernel_init=init,
                                            dtype=self.dtype, name=f"up_{i}")
                      if cfg.upsample == "subpixel" else
                      nn.ConvTranspose(c, (k, k), strides=(2, 2), padding="SAME",
                                       use_bias=bias or last, kernel_init=init,
                                       dtype=self.dtype, name=f"up_{i}"))
                h = up(h)
                if not last:
                    h = nn.relu(self._norm(h, label, train, 2 + i))
            out = h
        out = out.astype(output_dtype(self.dtype))
        return jnp.tanh(out) if self.image else out


class Discriminator(nn.Module):
    """Packed inputs ``[N, *packed_shape]`` (and labels ``[N]``) -> logits ``[N]`` in
    :func:`~gen_jax.nn.output_dtype` (float32 unless the compute dtype is float64).

    mlp: dense hidden layers ``d_hidden``, each a maxout of ``d_maxout_pieces`` pieces (PacGAN's
    LinearMaxout) or, with one piece, LeakyReLU(0.2); then a linear output. dcgan: stride-2
    ``k x k`` convolutions ``d_channels`` with LeakyReLU(0.2), flattened, then a linear output.
    ``spectral_norm`` normalizes every kernel (its power-iteration vectors are ``batch_stats``).
    A conditional discriminator adds the projection ``<embed(y), h>`` of the last features
    (Miyato & Koyama 2018), its class embedding also normalized under ``spectral_norm``.

    Attributes:
      config: the family's :class:`GANConfig`.
      num_classes: label classes (0: unconditional).
      dtype: compute dtype.
    """

    config: Any
    num_classes: int = 0
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(
        self, x: jax.Array, label: jax.Array | None = None, *, update_stats: bool = False
    ) -> jax.Array:
        cfg = self.config
        init = kernel_init(cfg.init_std)
        sn = cfg.spectral_norm

        def dense(features, h):
            if sn:
                return SpectralDense(features, kernel_init=init, dtype=self.dtype)(
                    h, update_stats=update_stats)
            return nn.Dense(features, kernel_init=init, dtype=self.dtype)(h)

        h = x.astype(self.dtype)
        if cfg.arch == "mlp":
            h = h.reshape(h.shape[0], -1)
            pieces = cfg.d_maxout_pieces
            for width in cfg.d_hidden:
                h = (maxout(dense(width * pieces, h), pieces) if pieces > 1
                     else nn.leaky_relu(dense(width, h), 0.2))
        else:
            k = (cfg.kernel_size, cfg.kernel_size)
            for c in cfg.d_channels:
                if sn:
                    h = SpectralConv(c, k, (2, 2), kernel_init=init, dtype=self.dtype)(
                        h, update_stats=update_stats)
                else:
                    h = nn.Conv(c, k, strides=2, padding="SAME", kernel_init=init,
                                dtype=self.dtype)(h)
                h = nn.leaky_relu(h, 0.2)
            h = h.reshape(h.shape[0], -1)
        out = dense(1, h)[:, 0]
        if self.num_classes:
            if sn:  # the class embedding is normalized too (Miyato & Koyama's SNEmbedID)
                embed = SpectralEmbed(self.num_classes, h.shape[-1], embedding_init=init,
                                      name="projection")(label, update_stats=update_stats)
            else:
                embed = nn.Embed(self.num_classes, h.shape[-1], embedding_init=init,
                                 name="projection")(label)
            out = out + jnp.sum(embed.astype(h.dtype) * h, axis=-1)
        return out.astype(output_dtype(self.dtype))
