"""PacGAN's 2-D mode-collapse experiments (Lin et al. 2018, Section 5.1, Table 1), after VEEGAN.

Networks as in the paper's code (``synthetic_data_experiments/2D*_GAN&PacGAN``): generator
2 -> 4 x [dense 400 (no bias), batch norm, ReLU] -> 2, discriminator 3 x LinearMaxout(200, 5
pieces) -> 1, all kernels N(0, 0.02^2), non-saturating loss, Adam with beta1 = 0.8, 100
(packed) examples per batch: PacGAN-m draws 100 * m real and 100 * m fake points per step.

Deviations (budget: the whole 20-run sweep in about 40 CPU minutes on a shared 2-core machine,
instead of 400 epochs of 100,000 points = 400,000 steps per run): ``STEPS`` steps (under 1% of
the paper's) with Adam at ``LR`` (beta1 ``B1``) decayed to 0 by a cosine, instead of a constant
1e-4 (beta1 0.8); alternating D-then-G updates by default (the paper's ALI-derived code
updates both players simultaneously from the same batch: ``update="simultaneous"``). The
ring of gen_jax's ``ring8`` has radius 2 where the paper's has radius 1 (``ring8_r1``; both std
0.01). See README.md.

    gen-jax train --config experiments/gan_toy/config.py --train.workdir runs/gan_toy
    python experiments/gan_toy/run.py        # the whole sweep, results into README.md
"""

import dataclasses

from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.models import GANConfig

STEPS = 3000
LR = 2e-3
B1 = 0.5
PACKS_PER_BATCH = 100


def make(data: str = "grid25", pac: int = 4, seed: int = 0, steps: int = STEPS,
         lr: float = LR, workdir: str = "runs/gan_toy", b1: float = B1,
         schedule: str = "cosine", checkpoint_every: int | None = None,
         update: str = "alternating", paper_bn: bool = False,
         ema_decay: float | None = None) -> ExperimentConfig:
    """GAN (pac = 1) or PacGAN-pac on ``data`` (ring8, ring8_r1 or grid25) with one seed.

    ``b1=0.8, schedule="constant", lr=1e-4, update="simultaneous"`` is the paper's optimizer
    and update; ``paper_bn`` its generator batch norm (running statistics decaying by 0.95,
    each pack position normalized on its own); ``checkpoint_every`` (default: only at the end)
    lets a long run resume after an interruption; ``ema_decay`` tracks an EMA of the generator
    (which does not change training).
    """
    return ExperimentConfig(
        model=GANConfig(arch="mlp", latent_dim=2, g_hidden=(400,) * 4, d_hidden=(200,) * 3,
                        d_maxout_pieces=5, batch_norm=True, init_std=0.02,
                        loss="non_saturating", pac=pac, update=update,
                        bn_momentum=0.95 if paper_bn else 0.9,
                        pack_batch_norm=paper_bn and pac > 1),
        data=DataConfig(name=data, batch_size=PACKS_PER_BATCH * pac),
        optim=OptimConfig(optimizer="adam", learning_rate=lr, b1=b1, b2=0.999,
                          schedule=schedule, ema_decay=ema_decay),
        train=TrainConfig(steps=steps, seed=seed, workdir=workdir, log_every=500,
                          eval_every=10**9, sample_every=max(steps // 4, 1),
                          checkpoint_every=checkpoint_every or steps, keep_checkpoints=1,
                          num_samples=2500,
                          num_eval_examples=2500, progress=False),
    )


def config() -> ExperimentConfig:
    """PacGAN4 on the 5x5 grid, seed 0."""
    return make()


def with_workdir(cfg: ExperimentConfig, workdir: str) -> ExperimentConfig:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, workdir=workdir))
