"""The model of the private MNIST experiment: a class-conditional MLP VAE trained with DP-SGD.

The IWAE paper's MNIST architecture (784-200-200-latent, tanh, Bernoulli likelihood on the grey
values) with the one-hot label fed to encoder and decoder, a 32-d latent, Adam at 1e-3, delta
1e-5. ``run.py`` sets the target epsilon (or turns privacy off for the non-private row); the
noise multiplier follows from it and the steps. DP-SGD's usual choices: large Poisson-sampled
batches (expected 2,048, q = 2,048 / 60,000: the noise per example falls with the batch while
the noise multiplier grows slowly), every example's gradient clipped to norm 1, about 25
epochs (750 steps), and an exponential moving average of the parameters (decay 0.99;
post-processing, so free of privacy cost) for sampling.
A first run with batches of 256 (6,000 steps, no EMA) is recorded in the README.

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
        data=DataConfig(name="mnist", batch_size=2048),
        optim=OptimConfig(optimizer="adam", learning_rate=1e-3, ema_decay=0.99),
        privacy=PrivacyConfig(target_epsilon=10.0, delta=1e-5, clip_norm=1.0),
        train=TrainConfig(steps=750, log_every=25, eval_every=250, num_eval_examples=2000,
                          sample_every=250, checkpoint_every=50, progress=False,
                          workdir="runs/privacy_mnist/eps10"),
    )
