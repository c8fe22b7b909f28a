"""Glow on MNIST, bits per dimension with the standard protocol, within a CPU budget.

Protocol (RealNVP / Glow / FFJORD): uniform dequantization of the 8-bit pixels ((k + u) / 256),
the logit transform with alpha = 1e-6, and bits/dim in the discrete pixel space (the logit's
and the 1/256 scaling's log-determinants included), on all 10,000 test images.

Architecture: 2 levels (14x14x4 and 7x7x8 after the squeezes), 8 steps per level (ActNorm,
LU 1x1 convolution, affine channel coupling with a 3x3 -> 1x1 -> 3x3 conditioner of 64
channels), half the variables factored out after level 1, standard normal prior.

    gen-jax train --config experiments/flow_mnist/config.py
    gen-jax eval --workdir runs/flow_mnist --num-examples 10000
"""

from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.models import GlowConfig


def config() -> ExperimentConfig:
    return ExperimentConfig(
        model=GlowConfig(num_levels=2, num_layers=8, hidden=(64,), logit_alpha=1e-6,
                         scan_unroll=8),
        data=DataConfig(name="mnist", batch_size=64),
        optim=OptimConfig(optimizer="adam", learning_rate=1e-3, schedule="cosine",
                          warmup_steps=200, end_factor=0.05, ema_decay=0.999),
        train=TrainConfig(steps=3000, log_every=100, eval_every=1000, num_eval_examples=2000,
                          sample_every=1000, checkpoint_every=250, workdir="runs/flow_mnist"),
    )
