"""The command line of ``gen-jax anomaly``."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...train import load_run, load_split, parse_experiment, read_new_data, train
from ..score import SCORES
from ._detector import (
    CORRECTIONS,
    anomalous,
    calibrate,
    load_detector,
    scores_of,
    scoring_config,
)
from ._report import detection_report

USAGE = """usage:
  gen-jax anomaly fit MODEL [--normal-classes C ...] [--fpr 0.05 | --contamination R]
                      [--holdout 0.1] [--correction input_complexity|likelihood_ratio]
                      [--background-perturb 0.2] [--score model|recon_error|nll_is]
                      [--train.workdir RUN] [training settings ...]
  gen-jax anomaly fit --workdir RUN [--fpr 0.05 | --contamination R]   (a trained run)
  gen-jax anomaly score --workdir RUN [--split test | --data PATH] [--out FILE.csv|.json]
  gen-jax anomaly report --workdir RUN [--split test | --data PATH] [--out FILE.json]
                         [--typicality M]"""


def main(argv: Sequence[str]) -> int:
    """``gen-jax anomaly fit | score | report ...``."""
    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "fit":
        return _fit(rest)
    if command in ("score", "report"):
        return _score_or_report(command, rest)
    raise ValueError(f"unknown anomaly command {command!r}; use fit, score or report "
                     "(gen-jax anomaly --help)")


def _fit(argv: list[str]) -> int:
    pre = argparse.ArgumentParser(prog="gen-jax anomaly fit", add_help=False)
    pre.add_argument("--normal-classes", type=int, nargs="+", default=None)
    pre.add_argument("--fpr", type=float, default=None)
    pre.add_argument("--contamination", type=float, default=None)
    pre.add_argument("--holdout", type=float, default=0.1)
    pre.add_argument("--workdir", default=None)
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--correction", default=None, choices=CORRECTIONS)
    pre.add_argument("--background-perturb", type=float, default=0.2)
    pre.add_argument("--score", default="model", choices=SCORES)
    pre.add_argument("--importance-samples", type=int, default=100)
    args, rest = pre.parse_known_args(argv)
    background = "background" if args.correction == "likelihood_ratio" else None
    if args.fpr is None and args.contamination is None:
        args.fpr = 0.05
    _check_rates(args)  # before any training
    if {"-h", "--help"} & set(argv) and not (rest and not rest[0].startswith("-")):
        print(USAGE)
        return 0
    trains = bool(rest) and (not rest[0].startswith("-") or "--config" in rest)
    if trains:
        if args.workdir is not None:
            raise ValueError("--workdir calibrates a trained run; to train one, name the "
                             "folder with --train.workdir")
        defaults = {"data": {"holdout_fraction": args.holdout if args.fpr is not None else 0.0}}
        if args.normal_classes is not None:
            defaults["data"]["classes"] = tuple(args.normal_classes)
        parsed = parse_experiment(rest, "gen-jax anomaly fit", defaults=defaults)
        if parsed is None:
            print("anomaly settings: --normal-classes C ... (train on these classes only), "
                  "--fpr R (threshold: false-positive rate R on held-out normal data; "
                  "default 0.05) or --contamination R (threshold: flags a share R of the "
                  "training data), --holdout F (held-out share, default 0.1)")
            return 0
        cfg, name = parsed
        train(cfg, name)
        workdir = cfg.train.workdir
        if background is not None:  # the same model on perturbed inputs (Ren et al. 2019)
            train(dataclasses.replace(
                cfg, data=dataclasses.replace(cfg.data, perturb=args.background_perturb),
                train=dataclasses.replace(cfg.train, workdir=str(Path(workdir) / background))),
                name)
    elif rest:
        raise ValueError(f"unrecognized arguments {rest}; name a model to train "
                         "(gen-jax anomaly --help)")
    elif args.workdir is None:
        raise ValueError("name a model to train (gen-jax anomaly fit vae ...) or a trained run "
                         "(--workdir RUN)")
    else:
        workdir = args.workdir
        if args.normal_classes is not None:
            raise ValueError("--normal-classes chooses what a new run trains on; a trained "
                             "run's normal classes are its data.classes")
    run = load_run(workdir)
    if background is not None and not (Path(workdir) / background / "config.json").is_file():
        raise ValueError(f"the likelihood ratio needs a background model in "
                         f"{Path(workdir) / background}: fit it with gen-jax anomaly fit MODEL "
                         "... --correction likelihood_ratio")
    detector = calibrate(run, fpr=args.fpr, contamination=args.contamination, seed=args.seed,
                         correction=args.correction, background=background,
                         score=args.score, importance_samples=args.importance_samples)
    path = detector.save(workdir)
    print(json.dumps({"detector": str(path), "threshold": detector.threshold,
                      "rule": detector.rule, "rate": detector.rate,
                      "correction": detector.correction, "score": detector.score,
                      "normal_classes": detector.normal_classes,
                      "calibration": detector.calibration}))
    return 0


def _check_rates(args: argparse.Namespace) -> None:
    """The fit's settings that would only fail after training, checked first."""
    if args.fpr is not None and args.contamination is not None:
        raise ValueError("set the threshold from one of --fpr (held-out normal data) or "
                         "--contamination (the training data), not both")
    for flag, value in (("--fpr", args.fpr), ("--contamination", args.contamination)):
        if value is not None and not 0.0 <= value < 1.0:
            raise ValueError(f"{flag} must lie in [0, 1), got {value}")
    if not 0.0 < args.holdout < 1.0:
        raise ValueError(f"--holdout must lie in (0, 1), got {args.holdout}")
    if args.correction == "likelihood_ratio" and not 0.0 < args.background_perturb < 1.0:
        raise ValueError(f"--background-perturb must lie in (0, 1), got "
                         f"{args.background_perturb}")
    if args.importance_samples < 1:
        raise ValueError(f"--importance-samples must be positive, got {args.importance_samples}")


def _score_or_report(command: str, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"gen-jax anomaly {command}")
    parser.add_argument("--workdir", required=True, help="the detector's run")
    parser.add_argument("--split", default=None, help="a split of the run's data, all classes "
                        "(default: its eval split)")
    parser.add_argument("--data", default=None, metavar="PATH",
                        help="new data of the kind the run trained on (--data.path runs)")
    parser.add_argument("--out", default=None, help="score: .csv or .json (default "
                        "WORKDIR/anomaly_scores_NAME.csv); report: .json (default "
                        "WORKDIR/anomaly_report_NAME.json)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--typicality", type=int, default=None, metavar="M",
                        help="report: also the typicality test on batches of M examples")
    args = parser.parse_args(argv)
    if args.typicality is not None and command != "report":
        raise ValueError("--typicality is a measure of the report: use gen-jax anomaly report")
    if args.data is not None and args.split is not None:
        raise ValueError("--data reads new data and --split a split of the run's data: pass "
                         "one")
    detector = load_detector(args.workdir)
    run = load_run(args.workdir)
    if args.data is not None:
        ds, name, what = read_new_data(run.config, args.data), Path(args.data).stem, args.data
    else:
        cfg = scoring_config(run.config)
        split = args.split or cfg.data.eval_split
        if split not in run.info.splits:
            raise ValueError(f"no split {split!r}; choose one of {', '.join(run.info.splits)}")
        ds, name, what = load_split(cfg, split), split, f"the {split} split"
    if len(ds) == 0:
        raise ValueError(f"{what} holds no examples")
    workdir = Path(args.workdir)
    if command == "report":
        out = Path(args.out or workdir / f"anomaly_report_{name}.json")
        if out.suffix != ".json":
            raise ValueError(f"--out names the report's .json file, got {out}")
        report = detection_report(run, detector, ds, out, what=what, batch_size=args.batch_size,
                                  typicality=args.typicality)
        keys = ("auroc", "auprc", "fpr_at_95_tpr", "f1", "false_positive_rate", "recall")
        print(json.dumps({"report": str(out), **{k: report[k] for k in keys}}))
        return 0
    out = Path(args.out or workdir / f"anomaly_scores_{name}.csv")
    if out.suffix not in (".csv", ".json"):
        raise ValueError(f"--out must end in .csv or .json, got {out}")
    scores = scores_of(run, detector, ds, batch_size=args.batch_size)
    flagged = scores > detector.threshold
    rows = {"index": np.arange(len(scores)), "score": scores, "flagged": flagged.astype(int)}
    if ds.label is not None:
        rows |= {"label": ds.label, "anomalous": anomalous(ds.label, detector.normal_classes)}
    _write_rows(out, rows)
    print(json.dumps({"scores": str(out), "num_examples": int(len(scores)),
                      "flagged": int(flagged.sum()), "threshold": detector.threshold}))
    return 0


def _write_rows(path: Path, rows: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(rows)
    values = [[_plain(rows[c][i]) for c in columns] for i in range(len(rows["index"]))]
    if path.suffix == ".json":
        path.write_text(json.dumps([dict(zip(columns, v, strict=True)) for v in values]) + "\n")
        return
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(values)


def _plain(value):
    return float(value) if isinstance(value, np.floating) else int(value)
