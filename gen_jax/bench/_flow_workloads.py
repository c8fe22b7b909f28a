"""The flow workloads of BENCHMARKS.md (W1-W3) and sampling (W6), on the production code.

Each builds the family from the model registry (``gen_jax.models.build``) and times the same
``make_train_step`` + ``JitStrategy.compile`` step that ``gen-jax train`` runs, like W4 in
:mod:`gen_jax.bench._workloads`. Sampling (W6) times the jitted ``model.sample`` that
:class:`gen_jax.train.Evaluator` uses.

The flows' data is continuous (``DatasetInfo.num_levels=None``) with standard-normal inputs, so
no dequantization and no logit is applied: the step is exactly the flow's NLL and its update.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from ..config import OptimConfig
from ..data import DatasetInfo
from ..models import MAFConfig, NSFConfig, RealNVPConfig, VAEConfig, build
from ..train import JitStrategy
from ._setup import Setup, mlp_flops, production_setup
from ._workload import Workload


def w1_config(num_layers: int = 8, scan_unroll: int = 1) -> RealNVPConfig:
    """W1's flow: affine couplings, half masks alternated by a reversal, 392-1024-1024-2x392.

    The log-scale is ``3 tanh(raw / 3)`` (the family's soft clamp, ``log_scale_bound=3``).
    """
    return RealNVPConfig(num_layers=num_layers, hidden=(1024, 1024), activation="relu",
                         arch="mlp", log_scale_bound=3.0, scan_unroll=scan_unroll)


def w2_config(num_layers: int = 8, scan_unroll: int = 1) -> NSFConfig:
    """W2's flow: K=8 spline couplings on 2-d, conditioner 1-128-128-(3K-1), tail bound 5."""
    return NSFConfig(num_layers=num_layers, hidden=(128, 128), activation="relu", arch="mlp",
                     num_bins=8, tail_bound=5.0, scan_unroll=scan_unroll)


def w3_config(scan_unroll: int = 1) -> MAFConfig:
    """W3's flow: 5 affine MADE layers 8-512-512-2x8, order reversed between layers."""
    return MAFConfig(num_layers=5, hidden=(512, 512), activation="relu", direction="maf",
                     transformer="affine", scan_unroll=scan_unroll)


W1_INFO = DatasetInfo(name="w1_continuous_784", shape=(28, 28, 1), num_classes=0,
                      num_levels=None)
W2_INFO = DatasetInfo(name="w2_continuous_2d", shape=(2,), num_classes=0, num_levels=None)
W3_INFO = DatasetInfo(name="w3_continuous_8d", shape=(8,), num_classes=0, num_levels=None)


FlowSetup = Setup


def flow_setup(family: str, cfg: Any, info: DatasetInfo, batch_size: int, learning_rate: float,
               seed: int = 0, *, host_x: np.ndarray | None = None,
               devices: list | None = None) -> Setup:
    """:func:`production_setup` with Adam at ``learning_rate``; ``host_x`` defaults to
    standard-normal float32 inputs of ``info.shape``."""
    if host_x is None:
        host_x = np.random.default_rng(seed).standard_normal(
            (batch_size, *info.shape)).astype(np.float32)
    return production_setup(family, cfg, info, host_x,
                            OptimConfig(optimizer="adam", learning_rate=learning_rate), seed,
                            devices)


def _w1_fwd_flops(batch: int, num_layers: int = 8) -> float:
    # per coupling: conditioner 392 -> 1024 -> 1024 -> 784 (shift and log-scale of 392)
    return num_layers * mlp_flops([392, 1024, 1024, 784], batch)


def flow_realnvp_784(batch_size: int = 256, seed: int = 0, scan_unroll: int = 1,
                     devices: list | None = None) -> Workload:
    """W1: RealNVP, 8 affine couplings on 784-d, conditioner 392-1024-1024-2x392, Adam 1e-4."""
    s = flow_setup("realnvp", w1_config(8, scan_unroll), W1_INFO, batch_size, 1e-4, seed,
                   devices=devices)
    return Workload(
        name="W1 flow-realnvp-784", call=lambda st: s.step(st, s.batch)[0], carry=s.state,
        matmul_flops=3.0 * _w1_fwd_flops(batch_size), items_per_call=1,
        description="production realnvp (arch mlp) train step under JitStrategy; inputs "
                    "N(0, 1) float32 [B, 28, 28, 1] of a continuous DatasetInfo (no logit), "
                    "flattened to 784 by the flow; log-scale 3 tanh(raw / 3); "
                    f"scan_unroll={scan_unroll}",
    )


def flow_nsf_2d(batch_size: int = 1024, seed: int = 0, scan_unroll: int = 1) -> Workload:
    """W2: NSF, 8 K=8 rational-quadratic spline couplings on 2-d, 1-128-128-23, Adam 1e-3."""
    s = flow_setup("nsf", w2_config(8, scan_unroll), W2_INFO, batch_size, 1e-3, seed)
    fwd = 8 * mlp_flops([1, 128, 128, 23], batch_size)
    return Workload(
        name="W2 flow-nsf-2d", call=lambda st: s.step(st, s.batch)[0], carry=s.state,
        matmul_flops=3.0 * fwd, items_per_call=1,
        description="production nsf (arch mlp) train step; N(0, 1) inputs [B, 2]; identity "
                    f"(linear) tails outside [-5, 5]; scan_unroll={scan_unroll}",
    )


def maf_8d(batch_size: int = 512, seed: int = 0, scan_unroll: int = 1) -> Workload:
    """W3: MAF, 5 affine MADE layers 8-512-512-2x8, reversed order between layers, Adam 1e-3."""
    s = flow_setup("maf", w3_config(scan_unroll), W3_INFO, batch_size, 1e-3, seed)
    fwd = 5 * mlp_flops([8, 512, 512, 16], batch_size)
    return Workload(
        name="W3 maf-8d", call=lambda st: s.step(st, s.batch)[0], carry=s.state,
        matmul_flops=3.0 * fwd, items_per_call=1,
        description="production maf train step (one MADE pass per layer for the density); "
                    "N(0, 1) inputs [B, 8]; masked dense layers counted at full size",
    )


def sample_realnvp_784(num: int = 1024, seed: int = 0) -> Workload:
    """W6 (flow): W1's flow draws ``num`` samples (latent -> data, the forward pass)."""
    s = flow_setup("realnvp", w1_config(), W1_INFO, 2, 1e-4, seed)
    variables = s.state.variables()
    key = jax.random.PRNGKey(seed + 1)
    # what Evaluator.samples runs: jit of the family's own sample function
    sample = jax.jit(lambda v, k: s.model.sample(v, k, num))
    return Workload(
        name="W6 sample realnvp-784", call=lambda _: sample(variables, key),
        carry=None, matmul_flops=_w1_fwd_flops(num), items_per_call=num,
        description=f"jit(model.sample) of W1's flow, {num} samples per call (rate: samples/s)",
    )


def sample_vae_784(num: int = 1024, seed: int = 0) -> Workload:
    """W6 (VAE): W4's VAE decodes ``num`` prior samples."""
    info = DatasetInfo(name="w4_binary", shape=(28, 28, 1), num_classes=0, num_levels=2)
    # W4's config (gen_jax.bench._workloads.vae_mlp_784)
    cfg = VAEConfig(arch="mlp", hidden=(512, 512), activation="relu", latent_dim=32,
                    likelihood="bernoulli", objective="elbo", num_samples=1)
    model = build("vae", cfg, info)
    key = jax.random.PRNGKey(seed)
    x = np.random.default_rng(seed).integers(0, 2, (2, 28, 28, 1)).astype(np.float32)
    variables = JitStrategy().place_state(model.init(key, {"x": x}))
    sample = jax.jit(lambda v, k: model.sample(v, k, num))
    return Workload(
        name="W6 sample vae-mlp-784", call=lambda _: sample(variables, key),
        carry=None, matmul_flops=mlp_flops([32, 512, 512, 784], num), items_per_call=num,
        description=f"jit(model.sample) of W4's VAE: decoder means at {num} prior draws",
    )


FLOW_WORKLOADS = {
    "w1": flow_realnvp_784,
    "w2": flow_nsf_2d,
    "w3": maf_8d,
    "w6-flow": sample_realnvp_784,
    "w6-vae": sample_vae_784,
}
"""Workload id -> constructor (registered in ``gen_jax.bench.WORKLOADS``)."""
