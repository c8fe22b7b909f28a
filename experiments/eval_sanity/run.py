"""Metric sanity across models on MNIST: does real data beat every trained model on every
fidelity metric, and does a mode-collapsed sample set show low recall/coverage but high precision?

Reference: 10,000 random MNIST training images (seed 0). Scored against it, 10,000 images each:
the MNIST test set (real), 10,000 other training images (real), samples of the trained models
found under runs/, and two deliberately mode-collapsed sets built from test images. Features
and logits come from the toolkit's MNIST classifier (trained first when missing).

    export GEN_JAX_DATA_DIR=/path/to/raw GEN_JAX_TFDS_DIR=/path/to/tfds
    python experiments/eval_sanity/run.py --out experiments/eval_sanity/results.json

Runs used when present: runs/iwae_mnist (VAE on binarized MNIST, 600k steps; read from the raw
checkpoint, see experiments/iwae_mnist/eval_nll.py), runs/eval_sanity_vae (a 3,000-step MLP VAE:
``gen-jax train vae --data.name mnist --train.steps 3000 --train.workdir runs/eval_sanity_vae``),
runs/flow_mnist (Glow; only once final_metrics.json exists).
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import jax
import numpy as np

from gen_jax import data, metrics, models
from gen_jax.classifier import train_classifier
from gen_jax.config import load_json, read_model_name

N = 10_000
MODEL_METRICS = ("fd", "kid_mean", "precision", "recall", "density", "coverage",
                 "classifier_score", "authenticity")


def classifier(root: str):
    try:
        return metrics.load_classifier("mnist", root)
    except FileNotFoundError:
        print("training the MNIST feature classifier (about 4 minutes)...", flush=True)
        train_classifier("mnist", root)
        return metrics.load_classifier("mnist", root)


def raw_params(workdir: Path) -> tuple[dict, int]:
    """``{"params": ...}`` of the newest checkpoint, read whatever the TrainState layout."""
    import orbax.checkpoint as ocp

    step = max(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    path = (workdir / "checkpoints" / str(step) / "state").absolute()
    with ocp.PyTreeCheckpointer() as ckpt:
        meta = ckpt.metadata(path).item_metadata.tree
        tree = ckpt.restore(path, restore_args=jax.tree.map(
            lambda _: ocp.RestoreArgs(restore_type=np.ndarray), meta))
    ema = tree.get("ema_params")
    return {"params": ema if ema else tree["params"]}, step


def model_sets(key) -> dict[str, np.ndarray]:
    """Samples of every trained MNIST model available under runs/."""
    out = {}
    iwae = Path("runs/iwae_mnist")
    if (iwae / "config.json").is_file():
        cfg = load_json(iwae / "config.json", models.VAEConfig)
        model = models.build("vae", cfg.model, data.info("mnist"))
        variables, step = raw_params(iwae)
        means = metrics.model_samples(model, variables, jax.random.fold_in(key, 1), N)
        out[f"VAE iwae_mnist ({step} steps), decoder means"] = means
        draws = jax.random.bernoulli(jax.random.fold_in(key, 2), means).astype(np.float32)
        out[f"VAE iwae_mnist ({step} steps), Bernoulli draws"] = np.asarray(draws)
    for name in ("eval_sanity_vae", "flow_mnist"):
        workdir = Path("runs") / name
        if not (workdir / "final_metrics.json").is_file():
            print(f"skipping runs/{name}: not finished (no final_metrics.json)", flush=True)
            continue
        from gen_jax.evaluation import model_variables
        from gen_jax.train import build_run

        family = read_model_name(workdir / "config.json")
        cfg = load_json(workdir / "config.json", models.FAMILIES[family].config)
        run, _ = build_run(cfg, family, restore=True)
        step = int(run.strategy.fetch(run.state.step))
        start = time.perf_counter()
        samples = metrics.model_samples(run.model, model_variables(run),
                                        jax.random.fold_in(key, 3), N)
        print(f"{name}: {N} samples in {time.perf_counter() - start:.0f} s", flush=True)
        out[f"{family} {name} ({step} steps)"] = np.clip(samples, 0, 1)
    return out


def collapsed_sets(test_images, test_labels, rng) -> dict[str, np.ndarray]:
    """Near-copies (Gaussian noise, std 0.05) of a few test images: one class, or 300 images."""
    def near_copies(pool):
        pick = pool[rng.integers(0, len(pool), N)]
        return np.clip(pick + rng.normal(0, 0.05, pick.shape), 0, 1).astype(np.float32)

    threes = test_images[test_labels == 3][:200]
    few = test_images[rng.choice(len(test_images), 300, replace=False)]
    return {"collapsed: 200 test 3s, near-copies": near_copies(threes),
            "collapsed: 300 test images, near-copies": near_copies(few)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--classifier-dir", default="runs/classifiers")
    p.add_argument("--out", default="experiments/eval_sanity/results.json")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    start = time.perf_counter()
    clf = classifier(args.classifier_dir)
    train, test = data.load("mnist", "train"), data.load("mnist", "test")
    train_images, test_images = metrics.dataset_images(train), metrics.dataset_images(test)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(train_images))
    reference = train_images[order[:N]]
    key = jax.random.PRNGKey(args.seed)
    sets = {"MNIST test set (real)": test_images,
            "10,000 other training images (real)": train_images[order[N:2 * N]]}
    sets |= model_sets(key)
    sets |= collapsed_sets(test_images, test.label, rng)

    ref_features = metrics.extract_features(clf, reference)
    rows = {}
    for name, images in sets.items():
        t = time.perf_counter()
        q = metrics.sample_quality_from_features(
            ref_features, metrics.extract_features(clf, images), jax.random.fold_in(key, 9),
            train_features=ref_features, generated_logits=metrics.extract_logits(clf, images))
        rows[name] = {k: q[k] for k in (*MODEL_METRICS, "memorized_fraction", "class_counts")}
        print(f"{name}: {json.dumps({k: round(q[k], 4) for k in MODEL_METRICS})} "
              f"({time.perf_counter() - t:.0f} s)", flush=True)
    result = {
        "reference": f"{N} random MNIST training images (seed {args.seed})",
        "classifier": {k: clf.record[k] for k in ("arch_hash", "test_accuracy", "path")},
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "jax_version": jax.__version__, "seconds": round(time.perf_counter() - start),
        "rows": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(rows))


def markdown(rows: dict) -> str:
    head = ["set", "FD", "KID", "precision", "recall", "density", "coverage", "class. score",
            "authenticity"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" + " ---: |" * (len(head) - 1)]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['fd']:.2f} | {r['kid_mean']:.4f} | " + " | ".join(
            f"{r[k]:.3f}" for k in MODEL_METRICS[2:]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
