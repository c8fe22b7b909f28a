"""A neural spline flow on two moons: an exact density, samples, and the latent point of a point.

    python examples/flow_two_moons.py [--workdir runs/examples/flow_two_moons]

Under a minute on a laptop CPU.
"""

import argparse

import jax
import numpy as np

from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.models import NSFConfig
from gen_jax.provenance import of_run
from gen_jax.train import load_run, save_samples, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="runs/examples/flow_two_moons")
    parser.add_argument("--steps", type=int, default=800)
    args = parser.parse_args()
    cfg = ExperimentConfig(
        model=NSFConfig(num_layers=4, hidden=(64, 64)),
        data=DataConfig(name="two_moons", batch_size=256, size=20_000),
        optim=OptimConfig(learning_rate=2e-3),
        train=TrainConfig(steps=args.steps, workdir=args.workdir, progress=False,
                          eval_every=10_000, sample_every=10_000))
    final = train(cfg, "nsf")
    print(f"held-out negative log-density: {final['nll']:.3f} nats per point")

    run = load_run(args.workdir)
    variables = run.state.variables(ema=True)
    samples = np.asarray(run.model.sample(variables, jax.random.PRNGKey(0), 5000))
    path = save_samples(samples, f"{args.workdir}/example_samples.png", provenance=of_run(run))
    print(f"5000 samples: {path}")
    points = np.array([[0.0, 1.8], [3.0, 3.0]], np.float32)  # the upper moon's top; far off
    log_p = run.model.log_prob(variables, points)
    print(f"log p on the upper moon: {float(log_p[0]):.2f}; far off it: {float(log_p[1]):.2f}")
    z = run.model.to_latent(variables, points)
    back = run.model.from_latent(variables, z)
    error = float(np.abs(back - points).max())
    print(f"largest round-trip error through the latent space: {error:.1e}")


if __name__ == "__main__":
    main()
