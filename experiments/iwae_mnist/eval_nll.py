"""Importance-sampled test NLL from a checkpoint's raw parameters (any TrainState layout).

``gen-jax eval --workdir W --importance-samples 5000`` is the usual route. This script reads
only ``params`` and ``step`` from ``W/checkpoints/STEP/state``, so it also works on checkpoints
written by older versions of the train state (the recorded run predates a state field).

    python experiments/iwae_mnist/eval_nll.py runs/iwae_mnist --step 600000 --k 5000
"""

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from gen_jax import data, metrics, models
from gen_jax.config import load_json
from gen_jax.train import make_preprocess


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workdir", type=Path)
    p.add_argument("--step", type=int, required=True)
    p.add_argument("--k", type=int, default=5000, help="importance samples per example")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    workdir = args.workdir.resolve()
    cfg = load_json(workdir / "config.json", models.VAEConfig)
    path = workdir / "checkpoints" / str(args.step) / "state"
    with ocp.PyTreeCheckpointer() as ckpt:
        meta = ckpt.metadata(path).item_metadata.tree
        tree = ckpt.restore(path, restore_args=jax.tree.map(
            lambda _: ocp.RestoreArgs(restore_type=np.ndarray), meta))
    info = data.info(cfg.data.name)
    model = models.build("vae", cfg.model, info)
    test = data.load(cfg.data.name, "test")
    key = jax.random.PRNGKey(args.seed)
    # One stochastic binarization of the test set, as the training pipeline binarizes.
    x = make_preprocess(info, cfg.data)({"x": test.x}, jax.random.fold_in(key, 1))["x"]
    start = time.time()
    nll, stderr = metrics.evaluate_log_likelihood(
        model, {"params": tree["params"]}, x, jax.random.fold_in(key, 2), num_samples=args.k)
    print(json.dumps({"step": int(tree["step"]), f"nll_is{args.k}": float(nll),
                      "stderr": float(stderr), "num_examples": int(x.shape[0]),
                      "seconds": round(time.time() - start, 1)}))


if __name__ == "__main__":
    main()
