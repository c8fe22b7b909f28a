"""What pix2pix and CycleGAN share: the checks of a translation pair, the networks a config
names, and the ``[0, 1]`` <-> ``[-1, 1]`` scales."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import jax

from ...data import DatasetInfo
from ._losses import GAN_LOSSES
from ._nets import PatchDiscriminator, ResNetGenerator, UNetGenerator

GeneratorArch = Literal["unet", "resnet"]


@dataclasses.dataclass(frozen=True)
class NetworksConfig:
    """The network sizes pix2pix and CycleGAN share (defaults sized for 28x28 images)."""

    g_features: int = 64
    """Channels of the generators' first layer (doubled per down-sampling level, at most 8x)."""
    depth: int = 2
    """Down-sampling levels of the generators; the image size must divide by 2**depth."""
    blocks: int = 6
    """Residual blocks of a resnet generator."""
    d_features: int = 64
    """Channels of the discriminators' first layer."""
    d_layers: int = 2
    """Stride-2 layers of the PatchGAN discriminators (patches of 1 / 2**d_layers the size)."""


def check_pair(name: str, info: DatasetInfo, config: Any, *, paired: bool) -> DatasetInfo:
    """Checks that ``info`` is a translation pair of images the config's networks fit; returns
    the target's info. Raises a one-line ``ValueError`` otherwise."""
    target = info.target
    if target is None:
        raise ValueError(f"{name} translates {info.name} into a second domain: name it with "
                         "--data.target (e.g. textured_mnist or digits28 beside mnist)")
    if paired and not info.paired:
        raise ValueError(f"{name} learns from corresponding pairs: add --data.paired (with a "
                         f"target whose examples match {info.name}'s, e.g. mnist and "
                         "textured_mnist), or train cyclegan on unpaired domains")
    for side in (info, target):
        if len(side.shape) != 3 or side.num_levels is None:
            raise ValueError(f"{name} translates images, but {side.name} holds examples of "
                             f"shape {side.shape}: use image data sets [H, W, C]")
    if info.shape[:2] != target.shape[:2]:
        raise ValueError(f"{name} keeps the image size, but {info.name} is "
                         f"{info.shape[0]}x{info.shape[1]} and {target.name} "
                         f"{target.shape[0]}x{target.shape[1]}: use domains of one size")
    if config.gan_loss not in GAN_LOSSES:
        raise ValueError(f"{name}: gan_loss must be one of {', '.join(GAN_LOSSES)}, got "
                         f"{config.gan_loss!r}")
    if config.generator not in ("unet", "resnet"):
        raise ValueError(f"{name}: generator must be unet or resnet, got {config.generator!r}")
    for field in ("g_features", "d_features", "depth", "d_layers"):
        if getattr(config, field) < 1:
            raise ValueError(f"{name}: {field} must be >= 1, got {getattr(config, field)}")
    factor = 2 ** max(config.depth, config.d_layers)
    if info.shape[0] % factor or info.shape[1] % factor:
        raise ValueError(f"{name}: {info.shape[0]}x{info.shape[1]} images do not halve "
                         f"{max(config.depth, config.d_layers)} times (depth {config.depth}, "
                         f"d_layers {config.d_layers}): lower them (28x28 allows 2)")
    return target


def make_generator(config: Any, out_channels: int, dtype: Any):
    """The generator the config names."""
    if config.generator == "unet":
        return UNetGenerator(out_channels, config.g_features, config.depth, config.dropout,
                             dtype=dtype)
    return ResNetGenerator(out_channels, config.g_features, config.depth, config.blocks,
                           dtype=dtype)


def make_discriminator(config: Any, dtype: Any) -> PatchDiscriminator:
    """The PatchGAN discriminator the config names."""
    return PatchDiscriminator(config.d_features, config.d_layers, dtype=dtype)


def signed(x: jax.Array) -> jax.Array:
    """``[0, 1]`` data -> the networks' ``[-1, 1]``."""
    return 2.0 * x - 1.0


def unit(t: jax.Array) -> jax.Array:
    """The networks' ``[-1, 1]`` -> ``[0, 1]`` data."""
    return 0.5 * (t + 1.0)
