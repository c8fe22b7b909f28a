"""The standard workloads of BENCHMARKS.md, built from the production models and steps.

Each workload returns a ``Workload``: a ``call(carry) -> carry`` that runs one production step
(the same ``make_train_step`` + ``JitStrategy.compile`` that ``gen-jax train`` runs), its initial
carry with inputs already on device, and the matmul FLOPs of one call for the efficiency ratio.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..config import OptimConfig
from ..data import DatasetInfo
from ..models import GANConfig, VAEConfig
from ._diffusion_workloads import DIFFUSION_WORKLOADS
from ._flow_workloads import FLOW_WORKLOADS
from ._metric_workloads import METRIC_WORKLOADS
from ._molecule_workloads import MOLECULE_WORKLOADS
from ._setup import mlp_flops, production_setup
from ._workload import Workload


def vae_mlp_784(batch_size: int = 128, seed: int = 0, devices: list | None = None) -> Workload:
    """W4: MLP VAE 784-512-512-2x32 / 32-512-512-784, ReLU, Bernoulli, Adam 1e-3, batch 128."""
    info = DatasetInfo(name="w4_binary", shape=(28, 28, 1), num_classes=0, num_levels=2)
    cfg = VAEConfig(arch="mlp", hidden=(512, 512), activation="relu", latent_dim=32,
                    likelihood="bernoulli", objective="elbo", num_samples=1)
    x = np.random.default_rng(seed).integers(0, 2, (batch_size, 28, 28, 1), dtype=np.uint8)
    s = production_setup("vae", cfg, info, x, OptimConfig(optimizer="adam", learning_rate=1e-3),
                         seed, devices)
    # Matmuls: encoder 784-512-512-64, decoder 32-512-512-784; backward ~ 2x forward.
    fwd = mlp_flops([784, 512, 512, 64], batch_size) + mlp_flops([32, 512, 512, 784],
                                                                   batch_size)
    return Workload(
        name="W4 vae-mlp-784", call=lambda st: s.step(st, s.batch)[0], carry=s.state,
        matmul_flops=3.0 * fwd, items_per_call=1,
        description="production VAE train step (gen_jax.train.make_train_step under "
                    "JitStrategy); 28x28x1 binary input flattened by the MLP encoder",
    )


def _conv_flops(batch: int, out_hw: int, k: int, c_in: int, c_out: int) -> float:
    return 2.0 * batch * out_hw * out_hw * k * k * c_in * c_out


def dcgan_28(batch_size: int = 64, seed: int = 0, upsample: str = "subpixel",
             devices: list | None = None) -> Workload:
    """W5: DCGAN on 28x28x1, non-saturating loss, one D then one G update, Adam 2e-4 b1 0.5.

    ``upsample="transpose"`` times the same step with ``lax.conv_transpose`` (for comparison).
    """
    info = DatasetInfo(name="w5_grey", shape=(28, 28, 1), num_classes=0, num_levels=256)
    cfg = GANConfig(arch="dcgan", latent_dim=100, g_channels=(256, 128, 64), d_channels=(64, 128),
                    kernel_size=5, batch_norm=True, loss="non_saturating", n_critic=1, pac=1,
                    upsample=upsample)
    x = np.random.default_rng(seed).integers(0, 256, (batch_size, 28, 28, 1), dtype=np.uint8)
    s = production_setup("gan", cfg, info, x,
                         OptimConfig(optimizer="adam", learning_rate=2e-4, b1=0.5), seed, devices)
    # Matmul-like FLOPs of the W5 definition (transposed convolutions counted as such, not the
    # sub-pixel form's zero taps). G forward on 64 z; D forward on 64 images.
    b = batch_size
    g_fwd = (2.0 * b * 100 * 7 * 7 * 256 + _conv_flops(b, 7, 5, 256, 128)
             + _conv_flops(b, 7, 5, 128, 64) + _conv_flops(b, 14, 5, 64, 1))
    d_fwd = _conv_flops(b, 14, 5, 1, 64) + _conv_flops(b, 7, 5, 64, 128) + 2.0 * b * 7 * 7 * 128
    # D update: G forward, D forward + backward on real and fake; G update: G forward +
    # backward, D forward + input backward on the fakes (backward ~ 2x forward).
    flops = g_fwd + 3.0 * 2 * d_fwd + 3.0 * g_fwd + 3.0 * d_fwd
    return Workload(
        name="W5 dcgan-28", call=lambda st: s.step(st, s.batch)[0], carry=s.state,
        matmul_flops=flops, items_per_call=1,
        description="production GAN train step (GAN.make_update via make_train_step under "
                    "JitStrategy): one D update then one G update; stride-2 transposed "
                    "convolutions computed as the identical sub-pixel convolutions",
    )


WORKLOADS: dict[str, Callable[[], Workload]] = {"w4": vae_mlp_784, "w5": dcgan_28}
"""Workload id -> constructor."""

# The flow and sampling workloads (W1-W3, W6), the metrics (W7), diffusion (W8) and the
# molecule VAE (W9) live in their own modules.
WORKLOADS.update(FLOW_WORKLOADS)
WORKLOADS.update(METRIC_WORKLOADS)
WORKLOADS.update(DIFFUSION_WORKLOADS)
WORKLOADS.update(MOLECULE_WORKLOADS)
