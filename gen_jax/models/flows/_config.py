"""Configs of the normalizing-flow families: realnvp, nsf, maf and glow.

Every flow models a density exactly. On discrete data (8-bit images, the 8x8 digits) it needs
uniformly dequantized inputs (``data.dequantize`` left unset does that for flows) and models
them in logit space (RealNVP's preprocessing), so that its likelihood is reported in bits per
dimension of the discrete data. Continuous data (the toy 2-D sets) is modeled as it is.
"""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class FlowConfig:
    """Settings shared by every flow family."""

    num_layers: int = 8
    """Vector flows: coupling or MADE layers. Multi-scale flows: flow steps per level."""
    hidden: tuple[int, ...] = (256, 256)
    """Conditioner widths: MLP hidden layers (vector flows); the first entry is the channel
    count of the convolutional conditioners (multi-scale flows)."""
    activation: str = "relu"
    """Hidden activation of the conditioners."""
    arch: Literal["mlp", "conv"] = "mlp"
    """mlp: a flow on the flattened example; conv: a multi-scale flow on images (squeeze,
    convolutional conditioners, half the variables factored out at each level)."""
    num_levels: int = 2
    """Multi-scale flows: number of scales (H and W must be divisible by 2 ** num_levels)."""
    conditional: bool = False
    """Class-conditional: a one-hot label joins every conditioner's input."""
    log_scale_bound: float = 3.0
    """Affine layers: log-scales are soft-clamped to (-bound, bound)."""
    logit_alpha: float = 1e-6
    """Discrete data: the flow models ``logit(alpha + (1 - 2 alpha) x)`` of the dequantized
    ``x`` in [0, 1) (RealNVP: 1e-6 on MNIST, 0.05 on CIFAR-10); > 0, since a dequantized pixel
    can be exactly 0."""
    scan_unroll: int = 1
    """Layers per iteration of the ``lax.scan`` over each stack (1: compile time independent
    of depth; ``num_layers``: fully unrolled, which can run faster on CPU)."""
    init_examples: int = 256
    """Training examples used for the data-dependent initialization of ActNorm layers."""


@dataclasses.dataclass(frozen=True)
class RealNVPConfig(FlowConfig):
    """RealNVP (Dinh et al. 2017): affine couplings.

    mlp: alternating half masks (a reversal of the vector between layers), W1 of BENCHMARKS.md
    with ``hidden=(1024, 1024)``. conv: multi-scale; each step is an ActNorm (in place of
    RealNVP's batch normalization) and four couplings, checkerboard, inverted checkerboard,
    channel, inverted channel.
    """


@dataclasses.dataclass(frozen=True)
class NSFConfig(FlowConfig):
    """Neural spline flow (Durkan et al. 2019): rational-quadratic spline couplings.

    mlp: alternating half masks, W2 of BENCHMARKS.md with ``hidden=(128, 128)`` on 2-D data.
    conv: multi-scale Glow-style steps (ActNorm, 1x1 convolution, spline coupling).
    """

    num_bins: int = 8
    """Spline bins K."""
    tail_bound: float = 5.0
    """The spline acts on [-B, B]; identity (linear) tails outside."""


@dataclasses.dataclass(frozen=True)
class MAFConfig(FlowConfig):
    """Masked autoregressive flow (Papamakarios et al. 2017) on MADE conditioners, with a
    reversal of the order between layers; the flattened example is one vector (arch mlp only).

    W3 of BENCHMARKS.md: ``num_layers=5, hidden=(512, 512)`` on 8-d data.
    """

    num_layers: int = 5
    hidden: tuple[int, ...] = (512, 512)
    direction: Literal["maf", "iaf"] = "maf"
    """maf: one-pass density, D-pass sampling; iaf: one-pass sampling, D-pass density (so
    training by maximum likelihood costs D passes per layer: for small D only)."""
    transformer: Literal["affine", "spline"] = "affine"
    """The elementwise map each layer applies."""
    num_bins: int = 8
    """Spline transformer: bins K."""
    tail_bound: float = 5.0
    """Spline transformer: the spline acts on [-B, B]."""


@dataclasses.dataclass(frozen=True)
class GlowConfig(FlowConfig):
    """Glow (Kingma & Dhariwal 2018): multi-scale; each step is ActNorm (data-dependent
    initialization), an invertible 1x1 convolution (LU form) and an affine channel coupling
    with a 3x3 -> 1x1 -> 3x3 convolutional conditioner."""

    arch: Literal["mlp", "conv"] = "conv"
    hidden: tuple[int, ...] = (128,)


FLOW_CONFIGS: dict[str, type[FlowConfig]] = {
    "realnvp": RealNVPConfig, "nsf": NSFConfig, "maf": MAFConfig, "glow": GlowConfig}
"""Flow family name -> its config class (the families :mod:`gen_jax.models._flow` builds)."""
