"""Train a VAE on scikit-learn's digits, evaluate it, sample from it, look at its latent space.

    python examples/vae_digits.py [--workdir runs/examples/vae_digits] [--steps 600]

Uses only the public API: a typed config, ``train``, ``load_run``, the model's capabilities.
Runs in well under a minute on a laptop CPU (no download: the digits ship with scikit-learn).
"""

import argparse

import jax
import numpy as np

from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.models import VAEConfig
from gen_jax.provenance import of_run
from gen_jax.train import load_run, load_split, save_samples, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="runs/examples/vae_digits")
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()

    cfg = ExperimentConfig(
        model=VAEConfig(hidden=(128, 64), latent_dim=8),
        data=DataConfig(name="digits", batch_size=64),
        optim=OptimConfig(learning_rate=2e-3, ema_decay=0.99),
        train=TrainConfig(steps=args.steps, workdir=args.workdir, progress=False,
                          eval_every=10_000, sample_every=10_000),
    )
    final = train(cfg, "vae")  # resumes if the workdir already holds a checkpoint
    print(f"test ELBO after {args.steps} steps: {final['elbo']:.2f} nats")

    run = load_run(args.workdir)
    variables = run.state.variables(ema=True)
    samples = run.model.sample(variables, jax.random.PRNGKey(0), 64)
    path = save_samples(np.asarray(samples), f"{args.workdir}/example_samples.png",
                        provenance=of_run(run))  # PNG text: synthetic, run, step
    print(f"64 samples: {path}")

    # The latent space: the posterior means of two test digits and the path between them.
    test = load_split(run.config, "test")
    x = np.asarray(test.x[:2], np.float32) / 16.0  # digits have 17 grey levels, 0..16
    z = run.model.to_latent(variables, x)
    path_points = np.linspace(0.0, 1.0, 8)[:, None] * (z[1] - z[0]) + z[0]
    walk = run.model.from_latent(variables, path_points)
    print(f"latent walk between two test digits: {walk.shape[0]} images of {walk.shape[1:]}")


if __name__ == "__main__":
    main()
