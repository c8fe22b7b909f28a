"""Translation across domains on MNIST: pix2pix and CycleGAN, measured by classifiers.

    python experiments/translate_mnist/run.py --root runs/translate_mnist --task digits28 \
        --family cyclegan --steps 10000
    python experiments/translate_mnist/run.py --root runs/translate_mnist --task textured \
        --family pix2pix --steps 5000
    python experiments/translate_mnist/run.py --summary

Tasks (the second domains of :mod:`gen_jax.data`): ``digits28``, MNIST -> scikit-learn's 8x8
digits at MNIST's size (a real shift of handwriting and resolution, the analogue of MNIST ->
USPS; unpaired), and ``textured``, MNIST -> textured MNIST (digits over photo textures, built
like MNIST-M; paired example for example, so pix2pix can train on it).

For each task, family and seed the script

1. trains ``gen-jax train FAMILY --data.name mnist --data.target TARGET`` (``--data.paired``
   for pix2pix);
2. evaluates it with ``gen-jax eval``: the target domain's frozen feature classifier (trained
   on the target's training split on first use, kept under ``ROOT/classifiers``) on the
   translations of MNIST's 10,000 test images, beside the untranslated images;
3. domain adaptation (CyCADA's and UNIT's protocol): translates MNIST's training images
   (``--adapt-size`` of them) with their labels (``gen-jax translate``), then trains the
   toolkit's classifier under one budget (``--adapt-steps`` steps of 128, AdamW 2e-3, cosine)
   on (a) the untranslated MNIST images (source only), (b) their translations, (c) the
   target's own labelled training split (the oracle), each from ``--adapt-seeds`` seeds, and
   tests each on the target's test split; a paired t-test compares (b) with (a).

Settings: the papers' optimizer (Adam 2e-4, beta1 0.5) and losses (pix2pix: cross-entropy +
100 L1; CycleGAN: least squares + 10 cycle), batches of 16, networks sized for 28x28 on a CPU
(``model_args`` below). Every finished run is recorded in ``results.json`` beside this file,
keyed by task, family, seed and steps; an interrupted invocation resumes (training from its
checkpoints).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"
TARGETS = {"digits28": "digits28", "textured": "textured_mnist"}


def model_args(family: str) -> list[str]:
    """The networks: CycleGAN's resnet generator (16 channels, 4 blocks) and pix2pix's U-Net
    (32 channels, depth 2), PatchGAN discriminators of 32 channels over 7x7 patches."""
    if family == "cyclegan":
        return ["--model.g-features", "16", "--model.blocks", "4", "--model.d-features", "32"]
    return ["--model.g-features", "32", "--model.d-features", "32"]


def read_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def train_args(task: str, family: str, seed: int, workdir: Path, args) -> list[str]:
    out = ["train", family, "--data.name", "mnist", "--data.target", TARGETS[task],
           "--data.batch-size", "16", *model_args(family), "--optim.learning-rate", "2e-4",
           "--optim.b1", "0.5", "--train.steps", str(args.steps), "--train.seed", str(seed),
           "--train.log-every", "500", "--train.eval-every", str(args.eval_every),
           "--train.num-eval-examples", "2000", "--train.sample-every", str(args.eval_every),
           "--train.checkpoint-every", "1000", "--train.no-progress",
           "--train.workdir", str(workdir)]
    return out + (["--data.paired"] if family == "pix2pix" else [])


def adapt(workdir: Path, args, seed_base: int) -> dict:
    """The three domain-adaptation arms (see the module's docstring)."""
    from gen_jax import data as gdata
    from gen_jax.apps.augment import EvaluateSettings, paired_test, train_arm
    from gen_jax.apps.translate import TranslateSettings, translated_set
    from gen_jax.metrics import ConvClassifier, dataset_images
    from gen_jax.train import load_run

    run = load_run(workdir)
    target = run.info.target.name
    sets = {mode: translated_set(run, TranslateSettings(split="train", mode=mode,
                                                        size=args.adapt_size))
            for mode in ("untranslated", "translate")}
    real = gdata.load(target, "train")
    test = gdata.load(target, "test")
    real = gdata.ArrayDataset(real.info, "train", dataset_images(real), real.label)
    test = gdata.ArrayDataset(test.info, "test", dataset_images(test), test.label)
    settings = EvaluateSettings(steps=args.adapt_steps, seeds=args.adapt_seeds)
    net = ConvClassifier(10)
    accuracies: dict[str, list[float]] = {"source only": [], "translated": [], "target": []}
    for seed in range(seed_base, seed_base + args.adapt_seeds):
        for arm, mode in (("source only", "untranslated"), ("translated", "translate")):
            x = sets[mode].x.astype(np.float32) / 255.0
            accuracies[arm].append(train_arm("generated", net, real, (x, sets[mode].y), test,
                                             settings, seed).accuracy)
        accuracies["target"].append(train_arm("real", net, real, None, test, settings,
                                              seed).accuracy)
        print(workdir.name, {k: v[-1] for k, v in accuracies.items()}, flush=True)

    def row(values):
        v = np.asarray(values)
        return {"accuracy": v.tolist(), "mean": float(v.mean()),
                "sem": float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else None}

    return {"arms": {k: row(v) for k, v in accuracies.items()},
            "translated_vs_source": paired_test(np.asarray(accuracies["translated"]),
                                                np.asarray(accuracies["source only"])),
            "train_examples": len(sets["translate"].y), "test_examples": len(test.label),
            "steps": args.adapt_steps, "batch_size": settings.batch_size}


def run_one(root: Path, task: str, family: str, seed: int, args) -> None:
    from filelock import FileLock

    from gen_jax import cli

    key = f"{task}/{family}/seed{seed}/steps{args.steps}"
    if key in read_results():
        return
    workdir = root / task / family / f"seed{seed}"
    workdir.mkdir(parents=True, exist_ok=True)
    classifiers = root / "classifiers"
    with FileLock(workdir.parent / f"seed{seed}.lock"):
        if key in read_results():
            return
        start = time.time()
        assert cli.main(train_args(task, family, seed, workdir, args)) == 0
        trained = time.time() - start
        with FileLock(root / "classifiers.lock"):  # one invocation trains a classifier
            assert cli.main(["eval", "--workdir", str(workdir), "--classifier-dir",
                             str(classifiers), "--grid-size", "32"]) == 0
        report = json.loads((workdir / "eval_test.json").read_text())
        adapted = adapt(workdir, args, 0)
        with FileLock(root / "results.lock"):
            results = read_results()
            results[key] = {
                "frozen_classifier": report["translation"],
                "metrics": {k: report[k] for k in ("l1", "mse", "psnr", "cycle_x", "cycle_y")
                            if k in report},
                "adaptation": adapted, "train_seconds": round(trained),
                "seconds": round(time.time() - start), "date": time.strftime("%Y-%m-%d"),
                "command": "gen-jax " + " ".join(train_args(task, family, seed,
                                                            Path("WORKDIR"), args)),
            }
            RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        print(key, json.dumps(results[key]["adaptation"]["arms"])[:300], flush=True)


def summary(results: dict | None = None) -> str:
    """A markdown table of the recorded runs."""
    lines = ["| run | frozen classifier on translations | untranslated | adapted: source only "
             "| adapted: translated | target (oracle) |", "| --- | ---: | ---: | ---: | ---: "
             "| ---: |"]

    def pct(row):
        sem = row.get("sem")
        return f"{100 * row['mean']:.2f}" + ("" if sem is None else f" ± {100 * sem:.2f}")

    for key, value in sorted((read_results() if results is None else results).items()):
        frozen, arms = value["frozen_classifier"], value["adaptation"]["arms"]
        lines.append(f"| {key} | {100 * frozen['translated']['accuracy']:.2f} | "
                     f"{100 * frozen['untranslated']['accuracy']:.2f} | "
                     f"{pct(arms['source only'])} | {pct(arms['translated'])} | "
                     f"{pct(arms['target'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, help="folder of the runs")
    parser.add_argument("--summary", action="store_true")
    parser.add_argument("--task", choices=sorted(TARGETS), default="digits28")
    parser.add_argument("--family", choices=["cyclegan", "pix2pix"], default="cyclegan")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--eval-every", type=int, default=2500)
    parser.add_argument("--adapt-size", type=int, default=60000,
                        help="MNIST training images translated for the adapted classifier")
    parser.add_argument("--adapt-steps", type=int, default=2000)
    parser.add_argument("--adapt-seeds", type=int, default=3)
    args = parser.parse_args()
    if args.summary:
        print(summary())
        return
    if args.root is None:
        parser.error("--root is required to train")
    if args.family == "pix2pix" and args.task != "textured":
        parser.error("pix2pix learns from pairs: use --task textured")
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        run_one(args.root, args.task, args.family, seed, args)


if __name__ == "__main__":
    main()
