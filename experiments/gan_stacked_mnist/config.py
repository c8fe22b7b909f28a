"""PacGAN's stacked-MNIST experiment (Lin et al. 2018, Section 5.2, Table 2): a DCGAN and its
packed version on three MNIST digits stacked as channels (1,000 modes), scored by the modes
captured and the reverse KL over 26,000 samples labeled with the toolkit's MNIST classifier.

Networks: BENCHMARKS.md's W5 DCGAN at 28x28x3 (G: z(100) -> 7x7x256 -> 5x5 conv 128 -> 5x5
stride-2 up 64 -> 5x5 stride-2 up 3, tanh, batch norm in G; D: 5x5 stride-2 convs 64, 128,
LeakyReLU 0.2, dense 1), non-saturating loss, Adam 2e-4 (beta1 0.5), 64 (packed) examples
per batch. PacGAN's own stacked-MNIST nets follow VEEGAN/Unrolled-GAN and differ in sizes; see
README.md.

    gen-jax train --config experiments/gan_stacked_mnist/config.py --train.workdir runs/x
    python experiments/gan_stacked_mnist/run.py --pac 2 --steps 4000 --out runs/gan_stacked
"""

import dataclasses

from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.models import GANConfig

STEPS = 4000
PACKS_PER_BATCH = 64


def make(pac: int = 2, seed: int = 0, steps: int = STEPS,
         workdir: str = "runs/gan_stacked_mnist", checkpoint_every: int = 1000,
         g_steps: int = 1) -> ExperimentConfig:
    """DCGAN (pac = 1) or PacDCGAN-pac on stacked MNIST with one seed; ``g_steps=2`` makes
    two generator updates per step, as PacGAN's (DCGAN-tensorflow's) code."""
    return ExperimentConfig(
        model=GANConfig(arch="dcgan", latent_dim=100, g_channels=(256, 128, 64),
                        d_channels=(64, 128), kernel_size=5, batch_norm=True,
                        loss="non_saturating", pac=pac, g_steps=g_steps),
        data=DataConfig(name="stacked_mnist", batch_size=PACKS_PER_BATCH * pac),
        optim=OptimConfig(optimizer="adam", learning_rate=2e-4, b1=0.5, b2=0.999),
        train=TrainConfig(steps=steps, seed=seed, workdir=workdir, log_every=100,
                          eval_every=10**9, sample_every=max(steps // 4, 1),
                          checkpoint_every=checkpoint_every, keep_checkpoints=2,
                          num_samples=64, progress=False),
    )


def config() -> ExperimentConfig:
    """PacDCGAN2, seed 0."""
    return make()


def with_workdir(cfg: ExperimentConfig, workdir: str) -> ExperimentConfig:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, workdir=workdir))
