"""Differentially private generative models on MNIST: sample quality, downstream accuracy and
membership leakage against epsilon.

    python experiments/privacy_mnist/run.py --workdir runs/privacy_mnist --data-dir DATA
    python experiments/privacy_mnist/run.py ... --epsilons 10 --steps 6000   # one setting

For each epsilon (``inf``: the same model trained without privacy) the script

1. trains a class-conditional VAE (``config.py``) with DP-SGD to that epsilon at delta 1e-5
   (``gen_jax.train.train``; an interrupted run resumes where it stopped);
2. measures sample quality with ``gen-jax eval`` (Frechet distance, KID, precision/recall on
   the toolkit's MNIST classifier features, 10,000 samples against the 10,000 test images);
3. trains a downstream CNN on 60,000 generated, labelled images (6,000 per class) and reports
   its accuracy on the real test images (the protocol of DP-MERF, GS-WGAN and DPDM: train on
   synthetic, test on real);
4. audits membership with ``gen-jax audit`` (loss and distance-to-sample attacks, 10,000
   training members against 10,000 test non-members).

Each finished measurement is stored in ``results.json`` beside this file under its run, so the
script resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax import data as gdata
from gen_jax import metrics
from gen_jax.classifier._train import make_classifier_step
from gen_jax.config import PrivacyConfig
from gen_jax.evaluation import model_variables
from gen_jax.metrics import ClassifierConfig, ConvClassifier
from gen_jax.train import TrainState, load_run, train

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"


def load_config():
    spec = importlib.util.spec_from_file_location("privacy_mnist_config", HERE / "config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.config()


def read_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def record(name: str, key: str, value) -> None:
    results = read_results()
    results.setdefault(name, {})[key] = value
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(name, key, json.dumps(value)[:400], flush=True)


def run_name(epsilon: float) -> str:
    return "nonprivate" if math.isinf(epsilon) else f"eps{epsilon:g}"


def train_run(epsilon: float, workdir: Path, steps: int | None) -> None:
    cfg = load_config()
    privacy = PrivacyConfig() if math.isinf(epsilon) else dataclasses.replace(
        cfg.privacy, target_epsilon=epsilon)
    train_cfg = dataclasses.replace(cfg.train, workdir=str(workdir),
                                    steps=steps or cfg.train.steps)
    train(dataclasses.replace(cfg, privacy=privacy, train=train_cfg), "vae")


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "gen_jax", *args], check=True)


def downstream_accuracy(workdir: Path, data_dir: str | None, *, num: int, seed: int) -> dict:
    """Accuracy on the real MNIST test set of a CNN trained on ``num`` generated images (the
    classes in turn), with the feature classifier's architecture and schedule."""
    run = load_run(workdir)
    labels = np.arange(num, dtype=np.int32) % 10
    x = metrics.model_samples(run.model, model_variables(run),
                              jax.random.fold_in(jax.random.PRNGKey(seed), 7), num, label=labels)
    x = np.asarray(x, np.float32).reshape(num, 28, 28, 1)
    return train_and_test(x, labels, data_dir, seed=seed)


def train_and_test(x: np.ndarray, labels: np.ndarray, data_dir: str | None, *,
                   seed: int) -> dict:
    cfg = ClassifierConfig(seed=seed)
    info = gdata.info("mnist")
    net = ConvClassifier(10, tuple(cfg.channels), cfg.features, cfg.kernel_size)
    steps = cfg.epochs * (len(x) // cfg.batch_size)
    key_init, key_run = jax.random.split(jax.random.PRNGKey(seed))
    params = jax.jit(net.init)(key_init, jnp.zeros((1, 28, 28, 1), jnp.float32))["params"]
    tx = optax.adamw(optax.cosine_decay_schedule(cfg.learning_rate, steps),
                     weight_decay=cfg.weight_decay)
    state = TrainState.create(params=params, tx=tx, rng=key_run)
    # The step scales stored uint8 images to [0, 1]: hand it the samples as 8-bit images.
    images = np.clip(np.round(x * 255), 0, 255).astype(np.uint8)
    step_fn = jax.jit(make_classifier_step(net, info), donate_argnums=0)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(cfg.epochs):
        order = rng.permutation(len(x))
        for i in range(len(x) // cfg.batch_size):
            rows = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            state, _ = step_fn(state, {"x": images[rows], "label": labels[rows]})
    test = gdata.load("mnist", "test", data_dir=data_dir)
    x_test = np.asarray(gdata.preprocess(test.x, None, info))
    logits = metrics.batched_apply(jax.jit(lambda xb: net.apply({"params": state.params}, xb)[0]),
                                   x_test, batch_size=1000)
    return {"accuracy": float(np.mean(np.argmax(logits, -1) == test.label)),
            "num_train": len(x), "steps": steps, "classifier": dataclasses.asdict(cfg),
            "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="runs/privacy_mnist",
                        help="folder of the training runs (one per epsilon)")
    parser.add_argument("--data-dir", default=None, help="raw data (default $GEN_JAX_DATA_DIR)")
    parser.add_argument("--epsilons", type=float, nargs="+", default=[10.0, 1.0, math.inf])
    parser.add_argument("--steps", type=int, default=None, help="override config.py's steps")
    parser.add_argument("--num-downstream", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["quality", "downstream", "audit"])
    args = parser.parse_args()
    root = Path(args.workdir)
    if "real" not in read_results() and "downstream" not in args.skip:
        train_set = gdata.load("mnist", "train", data_dir=args.data_dir)
        x = np.asarray(train_set.x, np.float32).reshape(-1, 28, 28, 1) / 255.0
        record("real", "downstream", train_and_test(x[:args.num_downstream],
                                                    train_set.label[:args.num_downstream],
                                                    args.data_dir, seed=args.seed))
    for epsilon in args.epsilons:
        name = run_name(epsilon)
        workdir = root / name
        done = read_results().get(name, {})
        if "train" not in done:
            start = time.perf_counter()
            train_run(epsilon, workdir, args.steps)
            final = json.loads((workdir / "final_metrics.json").read_text())
            record(name, "train", {"final_metrics": final,
                                   "seconds_this_invocation": round(time.perf_counter() - start)})
        if "quality" not in done and "quality" not in args.skip:
            cli("eval", "--workdir", str(workdir), "--seed", str(args.seed), "--quality")
            report = json.loads((workdir / "eval_test.json").read_text())
            record(name, "quality", report.get("quality", report))
        if "downstream" not in done and "downstream" not in args.skip:
            record(name, "downstream", downstream_accuracy(workdir, args.data_dir,
                                                           num=args.num_downstream,
                                                           seed=args.seed))
        if "audit" not in done and "audit" not in args.skip:
            cli("audit", "--workdir", str(workdir), "--num", "10000", "--seed", str(args.seed))
            record(name, "audit", json.loads((workdir / "audit.json").read_text()))


if __name__ == "__main__":
    main()
