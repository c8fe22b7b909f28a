"""OT-CFM against independent coupling on 2-D toy sets (Tong et al. 2023): straighter paths.

For each set and coupling: train a flow-matching model with the production engine, then on
held-out points measure

* the energy distance of Euler samples (2,000) to 2,000 test points at 1, 2, 4, 8, 16 and 32
  network evaluations (NFE): straighter paths need fewer steps for the same distance;
* the normalized path energy of the learned flow from 100-step Euler trajectories, two ways:
  against the flow's own displacement, ``|E int_0^1 |v_t|^2 dt - E |x_1 - x_0|^2| / E |x_1 -
  x_0|^2`` (0 for straight paths, whatever the coupling), and as Tong et al. define NPE,
  against the squared 2-Wasserstein distance between the noise and the test points (exact
  assignment of 2,000 to 2,000), ``|E int |v_t|^2 dt - W_2^2| / W_2^2`` (0 only for the optimal
  transport map);
* the evaluations Dormand-Prince needs to sample at tolerance 1e-5 (a curvature measure);
* the held-out NLL through the ODE (exact divergence), nats.

    python experiments/flow_matching_toy/run.py --out experiments/flow_matching_toy/results.json

Resumable: each (set, coupling) run keeps its checkpoints under ``--workdir``; a finished run is
only evaluated again.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment

from gen_jax import data, models
from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.evaluation._likelihood import model_variables
from gen_jax.models import SamplerSettings
from gen_jax.train import build_run, train

_spec = importlib.util.spec_from_file_location(
    "flow_density_run", Path(__file__).parents[1] / "flow_density" / "run.py")
_flow_density = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_flow_density)
energy_distance = _flow_density.energy_distance

NFES = (1, 2, 4, 8, 16, 32)


def config(name: str, coupling: str, steps: int, workdir: Path) -> ExperimentConfig:
    return ExperimentConfig(
        model=models.FlowMatchingConfig(hidden=(128, 128, 128), coupling=coupling,
                                        sampler="euler", steps=32),
        data=DataConfig(name=name, batch_size=256),
        optim=OptimConfig(learning_rate=1e-3, schedule="cosine", warmup_steps=200,
                          end_factor=0.01),
        train=TrainConfig(steps=steps, eval_every=steps, num_eval_examples=None,
                          sample_every=steps, num_samples=2000, checkpoint_every=steps // 4,
                          log_every=500, workdir=str(workdir), progress=False),
    )


def path_energy(model, variables, num: int, key: jax.Array, test: np.ndarray,
                steps: int = 100) -> tuple[float, float]:
    """Normalized path energy of the learned flow from ``num`` prior draws: against its own
    displacement, and against ``W_2^2`` between the draws and ``test`` (Tong et al.)."""
    field = model.velocity(variables)
    x0 = jax.random.normal(key, (num, 2))
    dt = 1.0 / steps

    def step(carry, t):
        x, energy = carry
        v = field(x, t)
        return (x + dt * v, energy + dt * jnp.sum(v**2, axis=1)), None

    (x1, energy), _ = jax.lax.scan(step, (x0, jnp.zeros(num)),
                                   jnp.arange(steps) * dt)
    straight = float(jnp.mean(jnp.sum((x1 - x0) ** 2, axis=1)))
    cost = ((np.asarray(x0)[:, None] - test[None, :num]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    w2 = float(cost[rows, cols].mean())
    energy = float(energy.mean())
    return abs(energy - straight) / straight, abs(energy - w2) / w2


def evaluate(name: str, coupling: str, cfg: ExperimentConfig, final: dict) -> dict:
    run, _ = build_run(cfg, "flow_matching")
    model, variables = run.model, model_variables(run)
    test = np.asarray(data.load(name, "test").x[:2000])
    key = jax.random.PRNGKey(123)
    row = {"set": name, "coupling": coupling, "test_nll": final.get("nll"),
           "num_test": final.get("num_examples")}
    for nfe in NFES:
        sample = jax.jit(lambda v, k, n=nfe: model.sample_with(
            v, k, 2000, SamplerSettings("euler", n))[0])
        row[f"energy_distance_nfe{nfe}"] = energy_distance(np.asarray(sample(variables, key)),
                                                           test)
    _, count = jax.jit(lambda v, k: model.sample_with(
        v, k, 2000, SamplerSettings("adaptive", 1)))(variables, key)
    row["adaptive_nfe"] = int(count)
    row["path_energy"], row["npe_w2"] = path_energy(model, variables, 2000, key, test)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="+", default=["two_moons", "checkerboard"])
    p.add_argument("--couplings", nargs="+", default=["independent", "ot"])
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--workdir", type=Path, default=Path("runs/flow_matching_toy"))
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    results = []
    for name in args.sets:
        for coupling in args.couplings:
            cfg = config(name, coupling, args.steps, args.workdir / f"{name}_{coupling}")
            start = time.time()
            final = train(cfg, "flow_matching")
            row = {**evaluate(name, coupling, cfg, final),
                   "train_and_eval_seconds": round(time.time() - start, 1)}
            print(json.dumps(row), flush=True)
            results.append(row)
    record = {"date": time.strftime("%Y-%m-%d"), "jax": jax.__version__,
              "steps": args.steps,
              "config": dataclasses.asdict(config("SET", "COUPLING", args.steps, Path("."))),
              "results": results}
    if args.out:
        args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
