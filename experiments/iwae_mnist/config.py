"""VAE on dynamically binarized MNIST with the IWAE paper's architecture (Burda et al. 2016).

Table 1 of the paper, one stochastic layer: 784-200-200-50, tanh, Bernoulli likelihood, trained
with k = 1 (the VAE column, test NLL 86.76 nats with k = 5000 importance samples). The paper
trains 3,280 epochs with Adam (eps 1e-4) and a stepwise decay of the learning rate from 1e-3 to
1e-4; here the same decay is continuous over the budget in ``train.steps``.

    gen-jax train --config experiments/iwae_mnist/config.py --train.workdir runs/iwae_mnist
    gen-jax eval --workdir runs/iwae_mnist --importance-samples 5000
"""

from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.models import VAEConfig


def config() -> ExperimentConfig:
    return ExperimentConfig(
        model=VAEConfig(arch="mlp", hidden=(200, 200), activation="tanh", latent_dim=50,
                        likelihood="bernoulli", objective="elbo", num_samples=1),
        data=DataConfig(name="mnist", binarize=True, batch_size=100),
        optim=OptimConfig(optimizer="adam", learning_rate=1e-3, schedule="exponential",
                          end_factor=0.1, eps=1e-4),
        train=TrainConfig(steps=600_000, log_every=600, eval_every=30_000,
                          num_eval_examples=10_000, sample_every=30_000,
                          checkpoint_every=6_000, workdir="runs/iwae_mnist"),
    )
