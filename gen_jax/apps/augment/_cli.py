"""``gen-jax augment generate | evaluate``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ... import data as gdata
from ...train import load_run
from .._report import write_report
from ._evaluate import ARMS, EvaluateSettings, evaluate_augmentation, markdown
from ._generate import GenerateSettings, generate_dataset, load_generated, save_generated

SAMPLER_FLAGS = ("sampler", "steps", "guidance_scale")


def _counts(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--counts {text!r}: give integers separated by "
                                         "commas, one per class") from None


def _generate(args) -> None:
    overrides = {n: getattr(args, n) for n in SAMPLER_FLAGS if getattr(args, n) is not None}
    run = load_run(args.workdir, model_overrides=overrides)
    settings = GenerateSettings(per_class=args.per_class, counts=args.counts, seed=args.seed,
                                temperature=args.temperature, filter=args.filter,
                                min_confidence=args.min_confidence, k=args.k,
                                max_draws=args.max_draws)
    generated = generate_dataset(run, settings, classifier_dir=args.classifier_dir,
                                 sampler=overrides)
    path = save_generated(generated, args.out)
    r = generated.record
    print(json.dumps({"npz": str(path), "record": str(path.with_suffix(".json")),
                      "num": r["num"], "counts": r["counts"], "acceptance": r["acceptance"],
                      "read_back_with": f"--data.path {path}"}))


def _real(name: str, data_dir: str | None, tfds_dir: str | None
          ) -> tuple[gdata.ArrayDataset, gdata.ArrayDataset]:
    """The train and test splits of a registered data set or an own data file/folder."""
    if Path(name).exists():
        own = gdata.open_own(name, tfds_dir=tfds_dir)
        return gdata.load_own(own, "train"), gdata.load_own(own, "test")
    return (gdata.load(name, "train", data_dir=data_dir, tfds_dir=tfds_dir),
            gdata.load(name, "test", data_dir=data_dir, tfds_dir=tfds_dir))


def _evaluate(args) -> None:
    generated = load_generated(args.generated) if args.generated else None
    source = (generated.record.get("data", {}) if generated is not None else {})
    name = args.data or source.get("name") or source.get("path")
    if not name:
        raise ValueError("say which real data to train and test on: --data mnist (or a path), "
                         "or --generated FILE.npz made by gen-jax augment generate")
    labels_per_class = args.labels_per_class
    labels_seed = args.labels_seed
    if labels_per_class is None and source.get("labels_per_class") and not args.all_labels:
        labels_per_class = source["labels_per_class"]  # the pool the generator was trained on
        labels_seed = source.get("labels_seed", 0) if labels_seed is None else labels_seed
    settings = EvaluateSettings(
        arms=tuple(args.arms) if generated is not None or args.arms != list(ARMS)
        else ("real", "real+classical"),
        steps=args.steps, batch_size=args.batch_size, mix=args.mix, seeds=args.seeds,
        labels_per_class=labels_per_class, labels_seed=labels_seed or 0,
        learning_rate=args.learning_rate)
    real, test = _real(name, args.data_dir, args.tfds_dir)
    if args.test_size is not None:
        test = gdata.ArrayDataset(test.info, test.split, test.x[:args.test_size],
                                  test.label[:args.test_size])
    report = evaluate_augmentation(
        real, test, settings, None if generated is None else (generated.x, generated.y),
        progress=lambda line: print(f"gen-jax augment: {line}", file=sys.stderr, flush=True))
    report["real"]["data"] = name
    if generated is not None:
        report["generated"] = {"file": str(args.generated), **{
            k: generated.record.get(k) for k in ("source", "settings", "counts", "acceptance")}}
    write_report(args.out, report, markdown(report))


def main(argv: Sequence[str]) -> int:
    """``gen-jax augment generate --workdir RUN --per-class N --out FILE.npz | evaluate
    --generated FILE.npz [--data NAME|PATH] --out REPORT.json``."""
    parser = argparse.ArgumentParser(
        prog="gen-jax augment", description="Generated data as training data: a labelled data "
        "set from a class-conditional run, and the accuracy a classifier reaches with it.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("generate", help="a labelled data set from a class-conditional run")
    p.add_argument("--workdir", required=True, help="the run's output folder")
    p.add_argument("--out", required=True, help="the .npz to write (a .json record beside it)")
    counts = p.add_mutually_exclusive_group(required=True)
    counts.add_argument("--per-class", type=int, help="examples of every class")
    counts.add_argument("--counts", type=_counts, help="examples per class: N0,N1,...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0,
                   help="prior's standard deviation scale (flows, ppca)")
    p.add_argument("--filter", choices=("none", "confidence", "knn"), default="none",
                   help="keep samples the data set's classifier is confident about, or those "
                   "inside the real k-NN manifold of their class")
    p.add_argument("--min-confidence", type=float, default=0.9)
    p.add_argument("--k", type=int, default=3, help="--filter knn: neighbour rank")
    p.add_argument("--max-draws", type=float, default=20.0,
                   help="give up after drawing this many times a class's count")
    p.add_argument("--classifier-dir", default=None, help="root of the feature classifiers "
                   "(default: $GEN_JAX_CLASSIFIER_DIR, else runs/classifiers)")
    p.add_argument("--sampler", default=None, help="diffusion and flow matching: the sampler")
    p.add_argument("--steps", type=int, default=None, help="the sampler's steps")
    p.add_argument("--guidance-scale", type=float, default=None,
                   help="classifier-free guidance w (diffusion, flow matching)")
    p = sub.add_parser("evaluate", help="classifier accuracy with and without generated data")
    p.add_argument("--generated", default=None, help="a set made by gen-jax augment generate")
    p.add_argument("--data", default=None, help="the real data: a data set name or own data "
                   "path (default: what the generating run trained on)")
    p.add_argument("--out", required=True, help="JSON report (markdown beside it)")
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    p.add_argument("--steps", type=int, default=2000, help="training steps of every arm")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--mix", type=float, default=0.5,
                   help="real+generated: generated fraction of every batch")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--labels-per-class", type=int, default=None, help="real labelled examples "
                   "per class (default: the generating run's data.labels_per_class, else all)")
    p.add_argument("--labels-seed", type=int, default=None)
    p.add_argument("--all-labels", action="store_true",
                   help="train the real arms on every label even when the generator saw fewer")
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--test-size", type=int, default=None, help="first N test examples (all)")
    p.add_argument("--data-dir", default=None, help="raw data (default: $GEN_JAX_DATA_DIR)")
    p.add_argument("--tfds-dir", default=None, help="prepared data (default: "
                   "$GEN_JAX_TFDS_DIR)")
    args = parser.parse_args(list(argv))
    {"generate": _generate, "evaluate": _evaluate}[args.command](args)
    return 0
