"""DDPM on MNIST within a CPU budget: the W8 U-Net's layout at half the width.

Process and loss as Ho et al. (2020): 1000 steps of the linear schedule, epsilon prediction,
the simple loss; images in [-1, 1] (dequantized 8-bit pixels, so that the likelihood through
the ODE is a bound on the discrete one). U-Net: base 32 channels, multipliers 1, 2, 2
(28, 14, 7), one residual block per resolution, 4-head attention at 7x7; EMA 0.999.

    gen-jax train --config experiments/diffusion_mnist/config.py
    python experiments/diffusion_mnist/run.py curve      # Frechet distance against NFE
"""

from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.models import DiffusionConfig


def config() -> ExperimentConfig:
    return ExperimentConfig(
        model=DiffusionConfig(process="ddpm", prediction="eps", channels=32,
                              channel_mult=(1, 2, 2), num_res_blocks=1,
                              attention_resolutions=(7,), num_heads=4, num_groups=8,
                              sampler="ddim", steps=50),
        data=DataConfig(name="mnist", batch_size=64),
        optim=OptimConfig(optimizer="adam", learning_rate=2e-4, schedule="constant",
                          warmup_steps=200, grad_clip_norm=1.0, ema_decay=0.999),
        train=TrainConfig(steps=20_000, log_every=100, eval_every=2500, num_eval_examples=500,
                          sample_every=2500, num_samples=64, checkpoint_every=250,
                          workdir="runs/diffusion_mnist"),
    )
