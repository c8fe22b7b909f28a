"""Does generated data help a classifier that has few labels? MNIST and Fashion-MNIST with 10,
50 and 100 labelled examples per class, and the Classification Accuracy Score (CAS) of a
generator trained on every label.

    python experiments/augment_mnist/run.py --root runs/augment_mnist --dataset mnist
    python experiments/augment_mnist/run.py ... --labels 10 --seeds 5 --eval-steps 1000

For each labelled-pool size N (``--labels``) the script

1. trains a class-conditional VAE on the N x 10 labelled examples only (``data.labels_per_class
   N``, the pool drawn with seed 0; the generator sees nothing the classifier may not);
2. draws a balanced labelled set from it (``gen-jax augment generate``, 1,000 per class);
3. trains the toolkit's feature-classifier CNN under one budget (``--eval-steps`` steps of 128)
   on: the real pool; the real pool with classical augmentation (shifts, small rotations and
   scalings); the real pool mixed half and half with the generated set; the generated set alone
   (``gen-jax augment evaluate``), for ``--seeds`` seeds, tested on the 10,000 real test images.

``--cas`` adds the CAS protocol of Ravuri & Vinyals (2019): the generator trained on all 60,000
labels, 60,000 generated examples (6,000 per class), the classifier trained on them alone
beside the same classifier on the 60,000 real ones.

Every finished stage is recorded in ``results.json`` beside this file (keyed by data set and
N), so an interrupted invocation resumes where it stopped; training runs resume from their
checkpoints.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from gen_jax import cli
from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.models import VAEConfig
from gen_jax.train import train

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"


def generator_config(dataset: str, labels: int | None, workdir: Path, steps: int,
                     data_dir: str | None) -> ExperimentConfig:
    """A class-conditional MLP VAE (784-512-512-16, Bernoulli likelihood on the grey values),
    Adam 1e-3, EMA 0.999, batch 64 (the pool of 100 examples included)."""
    return ExperimentConfig(
        model=VAEConfig(arch="mlp", hidden=(512, 512), latent_dim=16, likelihood="bernoulli",
                        conditional=True),
        data=DataConfig(name=dataset, batch_size=min(64, 10 * labels) if labels else 64,
                        labels_per_class=labels, data_dir=data_dir),
        optim=OptimConfig(optimizer="adam", learning_rate=1e-3, ema_decay=0.999),
        train=TrainConfig(steps=steps, log_every=500, eval_every=steps, num_eval_examples=2000,
                          sample_every=steps, checkpoint_every=1000, progress=False,
                          workdir=str(workdir)))


def read_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def record(key: str, stage: str, value) -> None:
    results = read_results()
    results.setdefault(key, {})[stage] = value
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(key, stage, json.dumps(value)[:300], flush=True)


def setting(root: Path, dataset: str, labels: int | None, args) -> None:
    """One setting, under a lock: invocations started side by side (one per core) share the
    settings, each computed once."""
    from filelock import FileLock

    name = f"{dataset}/n{labels}" if labels else f"{dataset}/cas"
    (root / name).mkdir(parents=True, exist_ok=True)
    with FileLock(root / name / "lock"):
        _setting(root, dataset, labels, name, args)


def _setting(root: Path, dataset: str, labels: int | None, name: str, args) -> None:
    workdir = root / name / "vae"
    done = read_results().get(name, {})
    if "train" not in done:
        start = time.perf_counter()
        train(generator_config(dataset, labels, workdir, args.gen_steps, args.data_dir), "vae")
        final = json.loads((workdir / "final_metrics.json").read_text())
        record(name, "train", {"final_metrics": final, "steps": args.gen_steps,
                               "seconds_this_invocation": round(time.perf_counter() - start)})
    generated = root / name / "generated.npz"
    if not generated.is_file():
        per_class = 6000 if labels is None else 1000
        assert cli.main(["augment", "generate", "--workdir", str(workdir), "--per-class",
                         str(per_class), "--out", str(generated)]) == 0
    if "evaluate" not in done:
        out = root / name / "augment.json"
        arms = ["real", "generated"] if labels is None else [
            "real", "real+classical", "real+generated", "generated"]
        start = time.perf_counter()
        argv = ["augment", "evaluate", "--generated", str(generated), "--out", str(out),
                "--arms", *arms, "--steps", str(args.eval_steps), "--seeds",
                str(args.seeds if labels else args.cas_seeds)]
        if args.data_dir:
            argv += ["--data-dir", args.data_dir]
        assert cli.main(argv) == 0
        report = json.loads(out.read_text())
        report["seconds"] = round(time.perf_counter() - start)
        record(name, "evaluate", report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="runs/augment_mnist")
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist"])
    parser.add_argument("--labels", type=int, nargs="*", default=[10, 50, 100])
    parser.add_argument("--cas", action="store_true", help="also the CAS protocol")
    parser.add_argument("--gen-steps", type=int, default=5000)
    parser.add_argument("--eval-steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cas-seeds", type=int, default=3)
    parser.add_argument("--data-dir", default=None, help="raw data (default $GEN_JAX_DATA_DIR)")
    args = parser.parse_args()
    root = Path(args.root)
    for labels in args.labels:
        setting(root, args.dataset, labels, args)
    if args.cas:
        setting(root, args.dataset, None, args)


if __name__ == "__main__":
    main()
