"""Semi-supervised MNIST with 100, 600, 1000 and 3000 labels (Kingma et al. 2014, Table 1).

    python experiments/ssl_mnist/run.py --root runs/ssl_mnist --family m2 --labels 100 --seeds 5
    python experiments/ssl_mnist/run.py ... --family m1m2 --steps 50000 --m1-steps 20000

For each number of labels N and seed s the script trains ``gen-jax train m2`` (or ``m1m2``) on
MNIST's
60,000 training images, of which N keep their labels (``data.labels_per_class N/10``, drawn
with ``data.labels_seed s``; the run's seed is s too), and records the classifier's error on
the 10,000 test images every ``--eval-every`` steps (the learning curve) and at the end.

Settings (Kingma et al.'s where they say, ours where they do not): M2's default networks
(one hidden layer of 500 softplus units in the classifier, encoder and decoder; z of 50
dimensions; Bernoulli likelihood of dynamically binarized images), alpha 0.1, batches of 100
with the data's own share of labelled examples (at least one per batch), Adam 3e-4, EMA of
the parameters 0.999 (evaluated), no validation set. M1+M2: M1 of 500-500 softplus units and
50 dimensions trained alone for ``--m1-steps``, then M2 (300 hidden units for 100 labels, 500
for more, as their run_2layer_ssl.py) on codes drawn from M1's posterior at every step.
The feature-matching GAN (``ssl_gan``, Salimans et al.'s train_mnist_feature_matching.py): its
default networks on the grey levels, batches of 100 labelled and 100 unlabelled examples,
Adam 3e-3 with beta1 0.5, EMA 0.999.

Every finished run is recorded in ``results.json`` beside this file (keyed by N and seed), so
an interrupted invocation resumes where it stopped; unfinished runs resume from their
checkpoints. Several invocations side by side share the work (one lock per run).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.models import M1M2Config, M2Config, SSLGANConfig
from gen_jax.train import train

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"


def model_config(family: str, labels: int, args) -> M2Config | M1M2Config | SSLGANConfig:
    if family == "ssl_gan":
        return SSLGANConfig()
    if family == "m2":
        return M2Config(alpha=args.alpha)
    # Kingma et al.'s run_2layer_ssl.py: M2 with 300 hidden units for 100 labels, 500 for more
    hidden = (300,) if labels == 100 else (500,)
    return M1M2Config(alpha=args.alpha, hidden=hidden, classifier_hidden=hidden,
                      m1_steps=args.m1_steps)


def config(family: str, labels: int, seed: int, workdir: Path, args) -> ExperimentConfig:
    gan = family == "ssl_gan"  # grey levels, batches of 100 labelled + 100 unlabelled
    return ExperimentConfig(
        model=model_config(family, labels, args),
        data=DataConfig(name="mnist", batch_size=200 if gan else 100, binarize=not gan,
                        labels_per_class=labels // 10, labels_seed=seed,
                        data_dir=args.data_dir),
        optim=OptimConfig(optimizer="adam", learning_rate=args.gan_learning_rate if gan else 3e-4,
                          b1=0.5 if gan else 0.9, ema_decay=0.999),
        train=TrainConfig(steps=args.steps, seed=seed, log_every=1000,
                          eval_every=args.eval_every, num_eval_examples=10000,
                          sample_every=args.steps, checkpoint_every=2500, progress=False,
                          workdir=str(workdir)))


def read_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def curve(workdir: Path) -> list[list[float]]:
    """``[[step, test error], ...]`` from the run's metrics."""
    out = {}
    for line in (workdir / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "eval/error" in row:
            out[row["step"]] = row["eval/error"]
    return [[step, out[step]] for step in sorted(out)]


def run_one(root: Path, family: str, labels: int, seed: int, args) -> None:
    from filelock import FileLock

    key = f"{family}/n{labels}/seed{seed}/steps{args.steps}"
    if family == "m1m2":
        key += f"/m1steps{args.m1_steps}"
    name = f"seed{seed}"
    if family != "ssl_gan" and args.alpha != 0.1:  # not Kingma et al.'s
        key, name = key + f"/alpha{args.alpha:g}", name + f"_alpha{args.alpha:g}"
    if family == "ssl_gan" and args.gan_learning_rate != 3e-3:  # not Salimans et al.'s
        key, name = key + f"/lr{args.gan_learning_rate:g}", name + f"_lr{args.gan_learning_rate:g}"
    if key in read_results():
        return
    workdir = root / family / f"n{labels}" / name
    workdir.mkdir(parents=True, exist_ok=True)
    with FileLock(workdir.parent / f"{name}.lock"):
        if key in read_results():
            return
        start = time.time()
        final = train(config(family, labels, seed, workdir, args), family)
        with FileLock(root / "results.lock"):  # another invocation may write meanwhile
            results = read_results()
            results[key] = {"error": final["error"], "curve": curve(workdir),
                            "seconds": round(time.time() - start),
                            "date": time.strftime("%Y-%m-%d")}
            RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        print(key, json.dumps(results[key])[:200], flush=True)


def summary(results: dict | None = None) -> str:
    """A markdown table of the recorded runs (default: ``results.json``): test error mean and
    standard error over seeds, per setting (the key without its seed)."""
    import numpy as np

    groups: dict[str, list[float]] = {}
    for key, value in (read_results() if results is None else results).items():
        setting = "/".join(part for part in key.split("/") if not part.startswith("seed"))
        groups.setdefault(setting, []).append(100 * value["error"])
    lines = ["| setting | seeds | test error (%) |", "| --- | ---: | ---: |"]
    for setting, errors in sorted(groups.items()):
        spread = (f" ± {np.std(errors, ddof=1) / np.sqrt(len(errors)):.2f}"
                  if len(errors) > 1 else "")
        lines.append(f"| {setting} | {len(errors)} | {np.mean(errors):.2f}{spread} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, help="folder of the runs")
    parser.add_argument("--summary", action="store_true",
                        help="print the recorded results as a table and stop")
    parser.add_argument("--family", choices=["m2", "m1m2", "ssl_gan"], default="m2")
    parser.add_argument("--m1-steps", type=int, default=20000,
                        help="m1m2: steps of M1 alone before M2 trains on its codes")
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 600, 1000, 3000])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds FIRST .. FIRST+SEEDS-1 (invocations side by side)")
    parser.add_argument("--steps", type=int, default=30000)
    parser.add_argument("--eval-every", type=int, default=5000)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--gan-learning-rate", type=float, default=3e-3,
                        help="ssl_gan: Adam's learning rate (the reference's 3e-3)")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    if args.summary:
        print(summary())
        return
    if args.root is None:
        parser.error("--root is required to train")
    for labels in args.labels:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            run_one(args.root, args.family, labels, seed, args)


if __name__ == "__main__":
    main()
