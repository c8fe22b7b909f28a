"""W8 of BENCHMARKS.md: the diffusion U-Net's production training step and DDIM sampling."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..config import OptimConfig
from ..data import DatasetInfo
from ..models import DiffusionConfig, SamplerSettings, build
from ..train import JitStrategy
from ._setup import production_setup
from ._workload import Workload

W8_INFO = DatasetInfo(name="w8_grey", shape=(28, 28, 1), num_classes=0, num_levels=256)


def w8_config(**overrides) -> DiffusionConfig:
    """W8's model: the DDPM U-Net (base 64, multipliers 1, 2, 2, two residual blocks per
    resolution, GroupNorm 32, no dropout, 4-head attention at 7x7, sinusoidal time embedding to
    256), epsilon prediction on the linear schedule with 1000 steps, DDIM 50 steps with eta 0.
    ``overrides`` shrink it for tests."""
    return DiffusionConfig(**{
        "process": "ddpm", "schedule": "linear", "num_timesteps": 1000, "prediction": "eps",
        "arch": "unet", "channels": 64, "channel_mult": (1, 2, 2), "num_res_blocks": 2,
        "attention_resolutions": (7,), "num_heads": 4, "num_groups": 32, "dropout": 0.0,
        "sampler": "ddim", "steps": 50, "eta": 0.0, **overrides})


def forward_flops(model, variables, num: int) -> float:
    """FLOPs of one network evaluation on ``num`` images, from XLA's cost analysis of the
    compiled forward pass (convolutions, attention and dense layers alike)."""
    x = jnp.zeros((num, *model.info.shape))
    den = model.denoiser(variables)
    compiled = jax.jit(lambda v, y: den(y, jnp.asarray(0.5))[1]).lower(variables, x).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    return float(cost.get("flops", 0.0)) if cost else 0.0


def diffusion_unet_28(batch_size: int = 128, seed: int = 0, devices: list | None = None,
                      **overrides) -> Workload:
    """W8 (training): one production step of W8's U-Net on ``batch_size`` 28x28x1 images,
    Adam 2e-4, timesteps uniform."""
    cfg = w8_config(**overrides)
    x = np.random.default_rng(seed).integers(0, 256, (batch_size, 28, 28, 1), dtype=np.uint8)
    s = production_setup("diffusion", cfg, W8_INFO, x,
                         OptimConfig(optimizer="adam", learning_rate=2e-4), seed, devices)
    flops = 3.0 * forward_flops(s.model, s.state.variables(), batch_size)
    return Workload(
        name="W8 diffusion-unet-28", call=lambda st: s.step(st, s.batch)[0], carry=s.state,
        matmul_flops=flops, items_per_call=1,
        description="production diffusion train step (make_train_step under JitStrategy); "
                    "FLOPs: 3x XLA's cost analysis of the U-Net forward pass",
    )


def sample_ddim_unet_28(num: int = 256, steps: int = 50, seed: int = 0,
                        **overrides) -> Workload:
    """W8 (sampling): DDIM with ``steps`` steps, eta 0, ``num`` images per call, through the
    family's own ``sample_with`` (what ``gen-jax sample --sampler ddim`` runs)."""
    model = build("diffusion", w8_config(**overrides), W8_INFO)
    key = jax.random.PRNGKey(seed)
    x = np.random.default_rng(seed).integers(0, 256, (2, 28, 28, 1)).astype(np.float32) / 255
    variables = JitStrategy().place_state(model.init(key, {"x": x}))
    settings = SamplerSettings("ddim", steps, eta=0.0)
    sample = jax.jit(lambda v, k: model.sample_with(v, k, num, settings)[0])
    return Workload(
        name="W8 sample ddim-unet-28", call=lambda _: sample(variables, key), carry=None,
        matmul_flops=steps * forward_flops(model, variables, num), items_per_call=num,
        description=f"jit(model.sample_with) DDIM {steps} steps, eta 0, {num} images per "
                    "call (rate: images/s)",
    )


DIFFUSION_WORKLOADS = {"w8": diffusion_unet_28, "w8-sample": sample_ddim_unet_28}
"""Workload id -> constructor (registered in ``gen_jax.bench.WORKLOADS``)."""
