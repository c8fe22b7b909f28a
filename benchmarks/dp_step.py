"""DP-SGD's step on a CPU: the engine's private step (per-example norms in chunks, then one
backward pass through the clip-weighted loss) against the single pass that holds every
example's gradient (``vmap`` of the gradient, then ``gen_jax.optim.private_gradient``).

    python benchmarks/dp_step.py --batch 256 --repeats 15 \
        --out benchmarks/results/DATE-cpu-dp-step.json

The model is ``experiments/privacy_mnist``'s class-conditional MLP VAE on MNIST-shaped data;
the batch is Poisson sampling's padded capacity for the expected size (256 -> 352 rows). The
variants take turns (round-robin) so that a shared machine's changing load hits them alike;
steps/s is one over the median of each variant's times.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.data import DatasetInfo
from gen_jax.models import VAEConfig, build
from gen_jax.optim import DPSettings, private_gradient
from gen_jax.train import TrainState, guarded_update, make_train_step

MNIST = DatasetInfo("mnist", (28, 28, 1), 10, 256)


def single_pass_step(model, settings: DPSettings):
    """The private step as one ``vmap`` of the gradient (``[B, *params]`` held at once), with
    the engine's update."""

    def step(state, batch):
        key_loss, key_noise = jax.random.split(jax.random.fold_in(state.rng, state.step))

        def example_loss(params, x, label, key):
            variables = {"params": params}
            return model.loss(variables, {"x": x[None], "label": label[None]}, key,
                              train=True)[0]

        keys = jax.random.split(key_loss, batch["x"].shape[0])
        grads = jax.vmap(jax.grad(example_loss), in_axes=(None, 0, 0, 0))(
            state.params, batch["x"], batch["label"], keys)
        grads, _ = private_gradient(grads, batch["weight"], settings, key_noise)
        return guarded_update(state, grads, jnp.zeros(()), state.batch_stats)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256, help="the expected batch size")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    capacity = int(np.ceil(args.batch + 6 * np.sqrt(args.batch)))
    model = build("vae", VAEConfig(hidden=(200, 200), latent_dim=32, conditional=True), MNIST)
    rng = np.random.default_rng(0)
    batch = {"x": (rng.uniform(size=(capacity, 28, 28, 1)) > 0.5).astype(np.float32),
             "label": rng.integers(0, 10, capacity).astype(np.int32),
             "weight": (np.arange(capacity) < args.batch).astype(np.float32)}
    params = model.init(jax.random.PRNGKey(0), {"x": jnp.asarray(batch["x"][:2]),
                                                "label": jnp.asarray(batch["label"][:2])})
    state = TrainState.create(params=params["params"], tx=optax.adam(1e-3),
                              rng=jax.random.PRNGKey(1))
    variants = {}
    for chunk in (32, 0):
        settings = DPSettings(1.0, 1.0, float(args.batch), chunk)
        variants[f"two_pass_chunk_{chunk}"] = jax.jit(make_train_step(
            model, lambda b, key: b, privacy=settings))
    variants["single_pass"] = jax.jit(single_pass_step(model, DPSettings(1.0, 1.0,
                                                                         float(args.batch))))
    times = {name: [] for name in variants}
    for fn in variants.values():
        jax.block_until_ready(fn(state, batch))  # compile
    for _ in range(args.repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(state, batch))
            times[name].append(time.perf_counter() - start)
    result = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "jax": jax.__version__, "devices": str(jax.devices()), "batch": args.batch,
              "capacity": capacity, "repeats": args.repeats,
              "steps_per_s": {k: 1 / statistics.median(v) for k, v in times.items()},
              "median_ms": {k: 1000 * statistics.median(v) for k, v in times.items()}}
    result["speedup_vs_single_pass"] = {
        k: result["median_ms"]["single_pass"] / v for k, v in result["median_ms"].items()}
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
