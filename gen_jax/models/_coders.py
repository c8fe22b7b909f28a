"""What the autoencoder and the VAE share: network settings, encoder, decoder, data checks."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Literal

import chex
import jax
import jax.numpy as jnp
from flax import linen as nn

from ..data import DatasetInfo
from ..nn import MLP, ConvDecoder, ConvEncoder, get_activation, output_dtype, params_in
from ._likelihoods import MIN_LOG_SCALE, Likelihood, LikelihoodName

Dtype = Any
Activation = Literal["relu", "tanh", "gelu", "leaky_relu", "softplus", "elu", "silu"]


@dataclasses.dataclass(frozen=True)
class CoderConfig:
    """Encoder, decoder and likelihood settings shared by the autoencoder and the VAE.

    The defaults are the IWAE paper's MNIST model (Burda et al. 2016): MLP 784-200-200-50, tanh,
    Bernoulli likelihood.
    """

    arch: Literal["mlp", "conv"] = "mlp"
    """mlp: dense layers on the flattened input; conv: stride-2 convolutions and a sub-pixel
    convolutional decoder (image data [H, W, C] only)."""
    hidden: tuple[int, ...] = (200, 200)
    """Dense hidden widths of the encoder (the decoder mirrors them). With arch=conv: the dense
    layers between the convolutions and the latent."""
    activation: Activation = "tanh"
    channels: tuple[int, ...] = (32, 64)
    """conv arch: channels of the encoder's stride-2 convolutions (the decoder mirrors them)."""
    kernel_size: int = 3
    """conv arch: square kernel size."""
    latent_dim: int = 50
    likelihood: LikelihoodName = "bernoulli"
    """bernoulli: logits (binary or grey data in [0, 1], cross-entropy); gaussian: mean and
    log-scale; logistic: discretized logistic over the data's num_levels bins (PixelCNN++)."""
    scale: Literal["learned", "fixed", "predicted"] = "learned"
    """Gaussian/logistic log-scale: learned (one parameter per data dimension), fixed (log_scale),
    or predicted by the decoder per example and dimension. Unused by bernoulli."""
    log_scale: float = 0.0
    """The fixed log-scale, or the initial value of the learned one."""
    conditional: bool = False
    """Feed the one-hot label to the encoder and the decoder (data with labels only)."""


def validate(config: CoderConfig, info: DatasetInfo, family: str) -> None:
    """Checks ``config`` against the data, raising a one-line ``ValueError`` naming the fix."""
    if config.latent_dim < 1:
        raise ValueError(f"{family}: latent_dim must be >= 1, got {config.latent_dim}")
    for name in ("hidden", "channels"):
        sizes = tuple(getattr(config, name))
        if any(size < 1 for size in sizes):
            raise ValueError(f"{family}: every {name} size must be >= 1, got {sizes}")
    if config.kernel_size < 1:
        raise ValueError(f"{family}: kernel_size must be >= 1, got {config.kernel_size}")
    if not math.isfinite(config.log_scale):
        raise ValueError(f"{family}: log_scale must be a finite number, got {config.log_scale}")
    get_activation(config.activation)
    if config.arch not in ("mlp", "conv"):
        raise ValueError(f"{family}: unknown arch {config.arch!r}; use 'mlp' or 'conv'")
    if config.arch == "conv" and len(info.shape) != 3:
        raise ValueError(
            f"{family}: arch='conv' needs image data [H, W, C], but {info.name!r} has shape "
            f"{tuple(info.shape)}; use arch='mlp'"
        )
    if config.conditional and info.num_classes == 0:
        raise ValueError(
            f"{family}: conditional=True needs labels, but {info.name!r} has none "
            "(num_classes == 0); set conditional=False"
        )
    if config.likelihood == "bernoulli" and info.num_levels is None:
        raise ValueError(
            f"{family}: likelihood='bernoulli' needs data in [0, 1] (discrete data with "
            f"num_levels), but {info.name!r} is continuous; use likelihood='gaussian'"
        )
    if config.likelihood == "logistic" and (info.num_levels is None or info.num_levels < 2):
        raise ValueError(
            f"{family}: likelihood='logistic' needs discrete data (num_levels >= 2), but "
            f"{info.name!r} has num_levels={info.num_levels}; use likelihood='gaussian'"
        )
    if config.likelihood not in ("bernoulli", "gaussian", "logistic"):
        raise ValueError(f"{family}: unknown likelihood {config.likelihood!r}; use bernoulli, "
                         "gaussian or logistic")
    if config.scale not in ("learned", "fixed", "predicted"):
        raise ValueError(f"{family}: unknown scale {config.scale!r}; use learned, fixed or "
                         "predicted")


def likelihood_of(config: CoderConfig, info: DatasetInfo) -> Likelihood:
    """The observation likelihood a config asks for on this data."""
    levels = info.num_levels if config.likelihood == "logistic" else None
    return Likelihood(config.likelihood, levels)


def check_inputs(
    x: jax.Array, label: jax.Array | None, shape: tuple[int, ...], num_classes: int
) -> jax.Array | None:
    """Asserts the batch's shapes and dtypes; returns the labels the net needs (None if none).

    Raises:
      ValueError: the model is conditional (``num_classes > 0``) and ``label`` is None.
    """
    chex.assert_shape(x, (None, *shape))
    chex.assert_type(x, float)
    if num_classes == 0:
        return None
    if label is None:
        raise ValueError("this model is class-conditional: pass labels (batch['label'], int32 "
                         "[B]), or build it with conditional=False")
    chex.assert_shape(label, (x.shape[0],))
    chex.assert_type(label, int)
    return label


def one_hot(label: jax.Array | None, num_classes: int, batch: int) -> jax.Array | None:
    """One-hot float32 labels ``[batch, num_classes]``, or None for an unconditional net."""
    if num_classes == 0:
        return None
    if label is None:
        raise ValueError("this model is class-conditional: pass labels (int32 [B])")
    chex.assert_shape(label, (batch,))
    return jax.nn.one_hot(label, num_classes, dtype=jnp.float32)


class Encoder(nn.Module):
    """``x`` ``[B, *shape]`` (and one-hot labels) -> ``[B, out_features]`` in
    :func:`~gen_jax.nn.output_dtype` (float32 unless the compute dtype is float64)."""

    config: CoderConfig
    out_features: int
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, onehot: jax.Array | None) -> jax.Array:
        cfg = self.config
        x = x.astype(self.dtype)
        if cfg.arch == "conv":
            h = ConvEncoder(self.out_features, cfg.channels, cfg.hidden, cfg.kernel_size,
                            cfg.activation, dtype=self.dtype)(x, context=onehot)
        else:
            h = x.reshape(x.shape[0], -1)
            if onehot is not None:
                h = jnp.concatenate([h, onehot.astype(self.dtype)], axis=-1)
            h = MLP(cfg.hidden, self.out_features, cfg.activation, dtype=self.dtype)(h)
        return h.astype(output_dtype(self.dtype))


class Decoder(nn.Module):
    """``z`` ``[B, K]`` (and one-hot labels) -> ``(loc, log_scale)``, each ``[B, *shape]`` in
    :func:`~gen_jax.nn.output_dtype` (float32 unless the compute dtype is float64).

    ``loc`` is the likelihood's location (logits for Bernoulli); ``log_scale`` is None for
    Bernoulli, else learned (a ``log_scale`` parameter of shape ``shape``), fixed or predicted.
    """

    config: CoderConfig
    shape: tuple[int, ...]
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(
        self, z: jax.Array, onehot: jax.Array | None
    ) -> tuple[jax.Array, jax.Array | None]:
        cfg = self.config
        has_scale = cfg.likelihood != "bernoulli"
        outputs = 2 if has_scale and cfg.scale == "predicted" else 1
        h = z.astype(self.dtype)
        if onehot is not None:
            h = jnp.concatenate([h, onehot.astype(self.dtype)], axis=-1)
        batch = z.shape[0]
        if cfg.arch == "conv":
            height, width, channels = self.shape
            out = ConvDecoder((height, width, channels * outputs), tuple(reversed(cfg.channels)),
                              tuple(reversed(cfg.hidden)), cfg.kernel_size, cfg.activation,
                              dtype=self.dtype)(h)
            parts = [out[..., i * channels:(i + 1) * channels] for i in range(outputs)]
        else:
            dim = 1
            for s in self.shape:
                dim *= s
            out = MLP(tuple(reversed(cfg.hidden)), dim * outputs, cfg.activation,
                      dtype=self.dtype)(h)
            parts = [out[:, i * dim:(i + 1) * dim].reshape(batch, *self.shape)
                     for i in range(outputs)]
        loc = parts[0].astype(output_dtype(self.dtype))
        if not has_scale:
            return loc, None
        if cfg.scale == "predicted":
            log_scale = jnp.maximum(parts[1].astype(loc.dtype), MIN_LOG_SCALE)
        elif cfg.scale == "learned":
            param = self.param("log_scale", nn.initializers.constant(cfg.log_scale), self.shape,
                               jnp.float32)
            log_scale = jnp.broadcast_to(jnp.maximum(param.astype(loc.dtype), MIN_LOG_SCALE),
                                         loc.shape)
        else:
            log_scale = jnp.full(loc.shape, cfg.log_scale, loc.dtype)
        return loc, log_scale


class CoderNet(nn.Module):
    """An encoder to ``code_factor * latent_dim`` features and a decoder to ``p(x | z)``'s
    parameters: the network of the autoencoder (``code_factor`` 1: the code) and of the VAE (2:
    the posterior's mean and log-variance).

    Attributes:
      config: network and likelihood settings.
      shape: shape of one example.
      num_classes: number of label classes fed as one-hot (0: unconditional).
      likelihood: the observation likelihood.
      dtype: compute dtype (parameters stay float32; outputs are float32, or float64 when
        the compute dtype is float64).
    """

    config: CoderConfig
    shape: tuple[int, ...]
    num_classes: int
    likelihood: Likelihood
    dtype: Dtype = jnp.float32
    code_factor: ClassVar[int] = 1

    def setup(self):
        self.encoder = Encoder(self.config, self.code_factor * self.config.latent_dim,
                               dtype=self.dtype)
        self.decoder = Decoder(self.config, self.shape, dtype=self.dtype)

    def encoder_features(self, x: jax.Array, label: jax.Array | None) -> jax.Array:
        """``x`` ``[B, *shape]`` -> ``[B, code_factor * latent_dim]`` (see :class:`Encoder`)."""
        return self.encoder(x, one_hot(label, self.num_classes, x.shape[0]))

    def decode(self, z: jax.Array, label: jax.Array | None) -> tuple[jax.Array, jax.Array | None]:
        """``z`` ``[N, latent_dim]`` -> likelihood ``(loc, log_scale)``, each ``[N, *shape]``."""
        chex.assert_rank(z, 2)
        return self.decoder(z, one_hot(label, self.num_classes, z.shape[0]))


class CoderModel:
    """What the autoencoder and the VAE share: binding to a config and data, input checks and
    ``init`` (subclasses set ``net_class``, their :class:`CoderNet`)."""

    net_class: type[CoderNet]
    family: str

    def __init__(self, config: CoderConfig, info: DatasetInfo, *, dtype: Any = jnp.float32):
        validate(config, info, self.family)
        self._check(config)
        self.config = config
        self.info = info
        self.num_classes = info.num_classes if config.conditional else 0
        self.net = self.net_class(config, tuple(info.shape), self.num_classes,
                                  likelihood_of(config, info), dtype)

    def _check(self, config: CoderConfig) -> None:
        """The family's own checks of its config, after the shared ones (one-line errors)."""

    def _inputs(self, x: jax.Array, label: jax.Array | None) -> jax.Array | None:
        return check_inputs(x, label, self.net.shape, self.net.num_classes)

    def init(self, key: jax.Array, batch: dict[str, jax.Array]) -> dict[str, Any]:
        """Initial variables for a batch of this shape (in the model's parameter dtype)."""
        label = self._inputs(batch["x"], batch.get("label"))
        return params_in(dict(self.net.init({"params": key}, batch["x"], label)),
                         self.net.dtype)
