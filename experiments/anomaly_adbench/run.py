"""ADBench's protocol on its 31 classical tabular sets: gen_jax's generative detectors beside
PyOD's, on the same splits.

    python experiments/anomaly_adbench/run.py --out experiments/anomaly_adbench/results.jsonl
    python experiments/anomaly_adbench/run.py --report experiments/anomaly_adbench/results.jsonl

Protocol (Han et al. 2022, unsupervised setting): a stratified 70/30 split per seed, every
detector fitted on the training part as it is (anomalies included, labels unused), scored on the
test part; AUROC and AUPRC. Features are standardized with the training part's statistics (the
gen_jax detectors do it through ``data.standardize``; PyOD's get the same arrays). Each result is
one JSON line, appended as it is done: the script resumes where it stopped.

Needs the benchmark extra (PyOD) and the data: ``$GEN_JAX_DATA_DIR/adbench/classical`` or
``../shared/data/adbench/classical`` (``--group mvtec_resnet18``: MVTec-AD's categories as
ResNet-18 features, the same protocol).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
GEN_JAX = ("vae", "realnvp", "ae", "ppca")
PYOD = ("IForest", "ECOD", "COPOD", "KNN", "LOF", "OCSVM")
QUADRATIC = ("KNN", "LOF", "OCSVM")
"""PyOD detectors whose fit grows with the square of the training size: fitted on at most
``--max-quadratic`` training rows (a fixed random subset)."""


def data_dir(group: str = "classical") -> pathlib.Path:
    root = os.environ.get("GEN_JAX_DATA_DIR") or str(REPO.parent / "shared" / "data")
    return pathlib.Path(root) / "adbench" / group


def load(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as f:
        return np.asarray(f["X"], np.float64), np.asarray(f["y"]).astype(int)


def split(x, y, seed):
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)


def gen_jax_scores(family, x_train, x_test, y_test, seed, work: pathlib.Path):
    """Trains ``family`` on ``x_train`` through the own-data path; test scores."""
    import dataclasses

    from gen_jax.apps.score import score_examples
    from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
    from gen_jax.models import FAMILIES
    from gen_jax.train import load_run, load_split, train

    work.mkdir(parents=True, exist_ok=True)
    np.savez(work / "data.npz", x_train=x_train.astype(np.float32),
             x_test=x_test.astype(np.float32), y_train=np.zeros(len(x_train), int),
             y_test=y_test)
    n, d = x_train.shape
    width = int(min(256, max(32, 2 * d)))
    latent = int(max(1, min(16, d // 2)))
    model = {"vae": dict(hidden=(width, width), latent_dim=latent, likelihood="gaussian"),
             "ae": dict(hidden=(width, width), latent_dim=latent, likelihood="gaussian"),
             "ppca": dict(latent_dim=int(max(1, min(d - 1, 16)))),
             "realnvp": dict(arch="mlp", num_layers=6, hidden=(width, width))}[family]
    batch = int(min(256, n))
    steps = int(min(6000, max(1500, 40 * n // batch)))  # about 40 epochs, 1,500 to 6,000 steps
    cfg = ExperimentConfig(
        model=dataclasses.replace(FAMILIES[family].config(), **model),
        data=DataConfig(path=str(work / "data.npz"), standardize=True, batch_size=batch,
                        tfds_dir=str(work / "prepared")),
        optim=OptimConfig(learning_rate=1e-3, grad_clip_norm=10.0, ema_decay=0.999),
        train=TrainConfig(workdir=str(work / "run"), steps=steps, seed=seed, progress=False,
                          eval_every=10**9, sample_every=10**9, log_every=500,
                          checkpoint_every=10**9))
    start = time.perf_counter()
    train(cfg, family)
    fit_s = time.perf_counter() - start
    run = load_run(work / "run")
    start = time.perf_counter()
    scores = score_examples(run, load_split(run.config, "test"), batch_size=4096, seed=seed)
    return scores, fit_s, time.perf_counter() - start, {"steps": steps, "batch": batch}


def pyod_scores(name, x_train, x_test, seed, max_quadratic):
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF
    from pyod.models.ocsvm import OCSVM

    mean, std = x_train.mean(0), x_train.std(0)
    std = np.where(std > 0, std, 1.0)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    extra = {}
    if name in QUADRATIC and len(x_train) > max_quadratic:
        rows = np.random.default_rng(seed).permutation(len(x_train))[:max_quadratic]
        x_train, extra = x_train[rows], {"fitted_on": int(max_quadratic)}
    model = {"IForest": lambda: IForest(random_state=seed), "ECOD": ECOD, "COPOD": COPOD,
             "KNN": KNN, "LOF": LOF, "OCSVM": OCSVM}[name]()
    start = time.perf_counter()
    model.fit(x_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = model.decision_function(x_test)
    return scores, fit_s, time.perf_counter() - start, extra


def run(args) -> None:
    from gen_jax import metrics

    out = pathlib.Path(args.out)
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            r = json.loads(line)
            done.add((r["dataset"], r["seed"], r["detector"]))
    files = sorted(data_dir(args.group).glob("*.npz"), key=lambda p: p.stat().st_size)
    if args.datasets:
        files = [f for f in files if f.stem.split("_", 1)[1] in args.datasets]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    for path in files:
        name = path.stem.split("_", 1)[1]
        x, y = load(path)
        for seed in args.seeds:
            x_train, x_test, _, y_test = split(x, y, seed)
            for detector in args.detectors:
                if (name, seed, detector) in done:
                    continue
                work = pathlib.Path(args.work) / f"{name}-{seed}-{detector}"
                if detector in GEN_JAX:
                    scores, fit_s, score_s, extra = gen_jax_scores(detector, x_train, x_test,
                                                                   y_test, seed, work)
                else:
                    scores, fit_s, score_s, extra = pyod_scores(detector, x_train, x_test, seed,
                                                                args.max_quadratic)
                finite = np.isfinite(scores)
                if not finite.all():  # a diverged detector ranks those examples most anomalous
                    scores = np.where(finite, scores, np.inf)
                    scores = np.where(np.isinf(scores), np.nanmax(scores[finite]) + 1, scores)
                record = {"dataset": name, "seed": seed, "detector": detector,
                          "auroc": metrics.auroc(scores, y_test),
                          "auprc": metrics.average_precision(scores, y_test),
                          "n_train": int(len(x_train)), "n_test": int(len(x_test)),
                          "dim": int(x.shape[1]), "nonfinite_scores": int((~finite).sum()),
                          "fit_s": fit_s, "score_s": score_s,
                          "test_per_s": len(x_test) / max(score_s, 1e-9), **extra,
                          "commit": commit,
                          "date": datetime.datetime.now(datetime.UTC).isoformat(
                              timespec="seconds")}
                with open(out, "a") as f:
                    f.write(json.dumps(record) + "\n")
                print(f"{name} seed {seed} {detector}: AUROC {record['auroc']:.4f} "
                      f"({fit_s:.1f} s fit)", flush=True)


def report(path: str) -> None:
    rows = [json.loads(line) for line in pathlib.Path(path).read_text().splitlines()]
    detectors = [d for d in (*GEN_JAX, *PYOD) if any(r["detector"] == d for r in rows)]
    sets = sorted({r["dataset"] for r in rows})
    mean = {}
    for s in sets:
        for d in detectors:
            v = [r["auroc"] for r in rows if r["dataset"] == s and r["detector"] == d]
            mean[s, d] = (float(np.mean(v)), len(v)) if v else None
    complete = [s for s in sets if all(mean[s, d] is not None for d in detectors)]
    print(f"| data set | {' | '.join(detectors)} |")
    print("| --- |" + " ---: |" * len(detectors))
    for s in sets:
        cells = [f"{mean[s, d][0]:.3f}" if mean[s, d] else "" for d in detectors]
        print(f"| {s} | {' | '.join(cells)} |")
    if not complete:
        return
    ranks = {d: [] for d in detectors}
    for s in complete:
        values = np.array([mean[s, d][0] for d in detectors])
        order = (-values).argsort().argsort() + 1.0  # 1 = best (ties: order of appearance)
        for d, r in zip(detectors, order, strict=True):
            ranks[d].append(r)
    print(f"| mean AUROC over the {len(complete)} sets every detector finished | "
          + " | ".join(f"{np.mean([mean[s, d][0] for s in complete]):.3f}" for d in detectors)
          + " |")
    print("| average rank | " + " | ".join(f"{np.mean(ranks[d]):.2f}" for d in detectors) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="experiments/anomaly_adbench/results.jsonl")
    p.add_argument("--report", default=None, help="print the tables of a results file")
    p.add_argument("--group", default="classical", choices=("classical", "mvtec_resnet18"),
                   help="ADBench's 31 classical sets, or MVTec-AD's 11 categories as ResNet-18 "
                   "features")
    p.add_argument("--datasets", nargs="*", default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--detectors", nargs="+", default=[*GEN_JAX, *PYOD])
    p.add_argument("--max-quadratic", type=int, default=20_000)
    p.add_argument("--work", default="runs/anomaly_adbench")
    args = p.parse_args()
    if args.report:
        report(args.report)
        return
    run(args)


if __name__ == "__main__":
    sys.exit(main())
