"""Tree-Ring watermarks on MNIST models: the detector's rates after common edits, and what the
watermark costs the samples.

    python experiments/watermark_mnist/run.py --workdir runs/watermark_mnist --data-dir DATA

For each model (a flow-matching MLP, whose noise is recovered by its Heun solver run
backwards, and the Glow of ``experiments/flow_mnist``, whose inverse is exact) the script

1. trains it (``gen_jax.train.train``; an interrupted run resumes where it stopped);
2. measures the detector (``gen_jax.apps.watermark.robustness``): ``--num`` watermarked and as
   many clean samples, each edit of ``gen_jax.apps.watermark.EDITS``, flagged at p < 0.01;
3. measures the cost: Frechet distance on the toolkit's MNIST classifier features of 2,000
   watermarked and 2,000 clean samples against the first 2,000 test images, and between the
   two sample sets; and, once per model, between two clean sets (the distance's floor at this
   sample size).

The key is fixed (``--key-seed``) so the numbers can be reproduced. Results go to
``results.json`` beside this file, keyed by model, so the script resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from gen_jax import data as gdata
from gen_jax import metrics
from gen_jax.apps.watermark import (
    TreeRingKey,
    draw_noise,
    generate,
    robustness,
    watermarked_samples,
)
from gen_jax.classifier import train_classifier
from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.models import FlowMatchingConfig
from gen_jax.train import load_run, train

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"


def flow_matching_config(steps: int) -> ExperimentConfig:
    return ExperimentConfig(
        model=FlowMatchingConfig(arch="mlp", hidden=(1024, 1024, 1024), sampler="heun",
                                 steps=10, likelihood="none"),
        data=DataConfig(name="mnist", batch_size=128),
        optim=OptimConfig(optimizer="adam", learning_rate=1e-3, schedule="cosine"),
        train=TrainConfig(steps=steps, log_every=100, eval_every=2000, num_eval_examples=1000,
                          sample_every=2000, checkpoint_every=500, progress=False))


def glow_config(steps: int) -> ExperimentConfig:
    spec = importlib.util.spec_from_file_location(
        "flow_mnist_config", HERE.parent / "flow_mnist" / "config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = module.config()
    return dataclasses.replace(cfg, train=dataclasses.replace(
        cfg.train, steps=steps, progress=False, eval_every=steps, sample_every=steps))


MODELS = {"flow_matching": ("flow_matching", flow_matching_config, 6000),
          "glow": ("glow", glow_config, 300)}


def record(name: str, key: str, value) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results.setdefault(name, {})[key] = value
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(name, key, json.dumps(value)[:300], flush=True)


def cost(run, key: TreeRingKey, data_dir: str | None, classifier_dir: str, num: int) -> dict:
    try:
        classifier = metrics.load_classifier("mnist", classifier_dir)
    except FileNotFoundError:
        train_classifier("mnist", classifier_dir, data_dir=data_dir, progress=False)
        classifier = metrics.load_classifier("mnist", classifier_dir)
    test = gdata.load("mnist", "test", data_dir=data_dir)
    real = np.asarray(test.x[:num], np.float32) / 255.0
    marked, labels = watermarked_samples(run, key, num, seed=10)
    clean = generate(run, draw_noise(run, num, seed=11), labels)
    feats = {name: metrics.batched_apply(classifier.features, x)
             for name, x in (("real", real), ("marked", marked), ("clean", clean))}
    fd = lambda a, b: float(metrics.frechet_distance(feats[a], feats[b]))  # noqa: E731
    return {"num": num, "fd_marked_vs_test": fd("marked", "real"),
            "fd_clean_vs_test": fd("clean", "real"), "fd_marked_vs_clean": fd("marked", "clean")}


def noise_floor(run, data_dir: str | None, classifier_dir: str, num: int) -> dict:
    """Frechet distance between two sets of ``num`` clean samples (other noise): what the
    distance between watermarked and clean samples is to be read against."""
    classifier = metrics.load_classifier("mnist", classifier_dir)
    sets = [generate(run, draw_noise(run, num, seed=seed)) for seed in (11, 12)]
    feats = [metrics.batched_apply(classifier.features, x) for x in sets]
    return {"num": num, "fd_clean_vs_clean": float(metrics.frechet_distance(*feats))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="runs/watermark_mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--classifier-dir", default="runs/classifiers")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--num", type=int, default=500)
    parser.add_argument("--key-seed", type=int, default=20261207)
    parser.add_argument("--rings", nargs="+", default=["1-7", "1-4", "5-10"],
                        help="INNER-OUTER rings of each key measured")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    for name in args.models:
        family, make_config, steps = MODELS[name]
        workdir = Path(args.workdir) / name
        done = results.get(name, {})
        if "train" not in done:
            cfg = make_config(steps)
            cfg = dataclasses.replace(
                cfg, data=dataclasses.replace(cfg.data, data_dir=args.data_dir),
                train=dataclasses.replace(cfg.train, workdir=str(workdir)))
            start = time.perf_counter()
            final = train(cfg, family)
            record(name, "train", {"steps": steps, "final_metrics": final,
                                   "seconds_this_invocation": round(time.perf_counter() - start)})
        run = load_run(workdir)
        if "noise_floor" not in done:
            record(name, "noise_floor", noise_floor(run, args.data_dir, args.classifier_dir, 2000))
        for rings in args.rings:
            inner, outer = (int(v) for v in rings.split("-"))
            key = TreeRingKey(args.key_seed, tuple(run.info.shape), outer, inner_radius=inner)
            tag = f"r{outer}" if inner == 1 else f"r{inner}-{outer}"
            if f"robustness_{tag}" not in done:
                start = time.perf_counter()
                report = robustness(run, key, args.num, seed=0, alpha=0.01)
                record(name, f"robustness_{tag}",
                       {**report, "seconds": round(time.perf_counter() - start)})
            if f"cost_{tag}" not in done:
                record(name, f"cost_{tag}",
                       cost(run, key, args.data_dir, args.classifier_dir, 2000))


if __name__ == "__main__":
    main()
