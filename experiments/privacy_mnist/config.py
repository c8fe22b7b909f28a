"""The model of the private MNIST experiment: a class-conditional MLP VAE trained with DP-SGD.

The IWAE paper's MNIST architecture (784-200-200-latent, tanh, Bernoulli likelihood on the grey
values) with the one-hot label fed to encoder and decoder, a 32-d latent, and DP-SGD's usual
choices: Poisson-sampled batches of expected size 256 (q = 256 / 60,000), every example's
gradient clipped to norm 1, Adam at 1e-3, delta 1e-5. ``run.py`` sets the target epsilon (or
turns privacy off for the non-private row); the noise multiplier follows from it and the steps.

    gen-jax train --config experiments/privacy_mnist/config.py --privacy.target-epsilon 10 \\
        --train.workdir runs/privacy_mnist/eps10
"""

from gen_jax.config import (
    DataConfig,
    ExperimentConfig,
    OptimConfig,
    PrivacyConfig,
    TrainConfig,
)
from gen_jax.models import VAEConfig


def config() -> ExperimentConfig:
    return ExperimentConfig(
        model=VAEConfig(arch="mlp", hidden=(200, 200), activation="tanh", latent_dim=32,
                        likelihood="bernoulli", conditional=True),
        data=DataConfig(name="mnist", batch_size=256),
        optim=OptimConfig(optimizer="adam", learning_rate=1e-3),
        privacy=PrivacyConfig(target_epsilon=10.0, delta=1e-5, clip_norm=1.0),
        train=TrainConfig(steps=6000, log_every=100, eval_every=1000, num_eval_examples=2000,
                          sample_every=2000, checkpoint_every=500, progress=False,
                          workdir="runs/privacy_mnist/eps10"),
    )
