"""``gen-jax molecules eval | reference``: MOSES's metric table of a SMILES file, and reference
sets described once."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ... import metrics
from ..._files import write_atomic
from . import _chem, _data, _moses, _reference

METRIC_ORDER = ("valid", "unique@1000", "unique@10000", "FCD/Test", "SNN/Test", "Frag/Test",
                "Scaf/Test", "FCD/TestSF", "SNN/TestSF", "Frag/TestSF", "Scaf/TestSF", "IntDiv",
                "IntDiv2", "Filters", "logP", "SA", "QED", "weight", "Novelty")
"""MOSES's column order."""


def metrics_markdown(values: dict[str, float], title: str) -> str:
    """A two-column markdown table of metric values, in MOSES's order."""
    keys = [k for k in METRIC_ORDER if k in values] + sorted(set(values) - set(METRIC_ORDER))
    rows = [f"| {k} | {'nan' if math.isnan(values[k]) else f'{values[k]:.4f}'} |" for k in keys]
    return "\n".join([f"## {title}", "", "| metric | value |", "| --- | ---: |", *rows, ""])


def _chemnet(args: argparse.Namespace) -> metrics.ChemNetFeatures | None:
    if args.no_fcd:
        return None
    return metrics.load_chemnet(args.chemnet_weights, batch_size=args.batch_size,
                                encoding="fcd_torch")


def _filters(args: argparse.Namespace) -> str | None:
    if args.no_filters:
        return None
    data_dir = args.data_dir or os.environ.get("GEN_JAX_DATA_DIR")
    return str(_chem.filters_dir(args.filters, data_dir))


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help="folder with moses/ (default: "
                        "$GEN_JAX_DATA_DIR)")
    parser.add_argument("--chemnet-weights", default=None, help="ChemNet_v0.13_pretrained.pt or "
                        "the fcd wheel (default: $GEN_JAX_CHEMNET_WEIGHTS, an installed fcd)")
    parser.add_argument("--no-fcd", action="store_true", help="leave FCD out (no ChemNet)")
    parser.add_argument("--batch-size", type=int, default=512, help="molecules per ChemNet call")
    parser.add_argument("--n-jobs", type=int, default=1, help="RDKit worker processes")


def eval_main(argv: Sequence[str]) -> int:
    """``gen-jax molecules eval SAMPLES [--test ...] [--out DIR]``."""
    parser = argparse.ArgumentParser(
        prog="gen-jax molecules eval", description="MOSES's metrics of generated SMILES "
        "(validity, unique@k, novelty, filters, FCD, SNN, Frag, Scaf, IntDiv1/2, and the "
        "Wasserstein distances of logP, SA, QED and weight) against reference sets.")
    parser.add_argument("samples", help="SMILES file (.csv with a SMILES column, .smi, .txt)")
    parser.add_argument("--test", default="moses:test", help="reference: moses:test, a "
                        "reference .npz (gen-jax molecules reference) or a SMILES file")
    parser.add_argument("--test-scaffolds", default="moses:test_scaffolds",
                        help="second reference (TestSF), or 'none'")
    parser.add_argument("--train", default="moses:train", help="training SMILES for novelty: "
                        "moses:train, a SMILES file, or 'none'")
    parser.add_argument("--filters", default=None, help="folder with mcf.csv and "
                        "wehi_pains.csv (default: DATA_DIR/moses/filters)")
    parser.add_argument("--no-filters", action="store_true", help="leave Filters out")
    parser.add_argument("--out", default=None, help="folder for metrics.json and metrics.md")
    _add_common(parser)
    args = parser.parse_args(list(argv))
    if args.batch_size < 1 or args.n_jobs < 1:
        raise ValueError("--batch-size and --n-jobs must be positive")
    smiles = _data.read_smiles(args.samples)
    filters = _filters(args)
    chemnet = _chemnet(args)
    kw: dict[str, Any] = {"data_dir": args.data_dir, "chemnet": chemnet, "n_jobs": args.n_jobs}
    test = _reference.load_reference_source(args.test, "Test", **kw)
    test_sf = (None if args.test_scaffolds == "none" else
               _reference.load_reference_source(args.test_scaffolds, "TestSF", **kw))
    train = None
    if args.train != "none":
        dataset, _, split = args.train.partition(":")
        train = (set(_data.dataset_smiles(dataset, split, args.data_dir))
                 if dataset in _data.DATASETS and split and not Path(args.train).exists()
                 else set(_data.read_smiles(args.train)))
    t0 = time.perf_counter()
    values = _moses.moses_metrics(smiles, test=test, test_scaffolds=test_sf, train=train,
                                  chemnet=chemnet, filters=filters, n_jobs=args.n_jobs)
    record = {"samples": str(args.samples), "num": len(smiles), "metrics": values,
              "references": {"test": test.record,
                             "test_scaffolds": None if test_sf is None else test_sf.record},
              "train": args.train, "rdkit": _moses.rdkit_version(),
              "seconds": round(time.perf_counter() - t0, 1), "date": time.strftime("%Y-%m-%d")}
    table = metrics_markdown(values, f"MOSES metrics of {Path(args.samples).name} "
                             f"({len(smiles)} SMILES)")
    print(table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "metrics.json", json.dumps(record, indent=2) + "\n")
        write_atomic(out / "metrics.md", table)
        print(f"written to {out / 'metrics.json'} and {out / 'metrics.md'}", file=sys.stderr)
    return 0


def reference_main(argv: Sequence[str]) -> int:
    """``gen-jax molecules reference SMILES_FILE --name NAME --out REF.npz``."""
    parser = argparse.ArgumentParser(
        prog="gen-jax molecules reference", description="Describe a reference set of molecules "
        "once (fingerprints, fragments, scaffolds, properties, ChemNet statistics) for "
        "`gen-jax molecules eval --test REF.npz`.")
    parser.add_argument("smiles", help="SMILES file, or moses:test / moses:test_scaffolds")
    parser.add_argument("--name", default="Test", help="the set's name in metric keys")
    parser.add_argument("--out", required=True, help="the .npz to write")
    _add_common(parser)
    args = parser.parse_args(list(argv))
    if not args.out.endswith(".npz"):
        raise ValueError(f"--out must end in .npz, got {args.out}")
    ref = _reference.load_reference_source(args.smiles, args.name, data_dir=args.data_dir,
                                           chemnet=_chemnet(args), n_jobs=args.n_jobs)
    _moses.save_reference(args.out, ref)
    print(f"{ref.record['num']} molecules ({ref.record['invalid']} invalid skipped) described "
          f"in {args.out}")
    return 0


ACTIONS = {"eval": eval_main, "reference": reference_main}


def main(argv: Sequence[str]) -> int:
    """``gen-jax molecules ACTION ...``."""
    argv = list(argv)
    if not argv or argv[0] not in ACTIONS:
        if argv and argv[0] in ("-h", "--help"):
            print(f"usage: gen-jax molecules {{{','.join(ACTIONS)}}} ...\n\n"
                  "  eval       MOSES's metrics of a SMILES file\n"
                  "  reference  describe a reference set once")
            return 0
        raise ValueError(f"gen-jax molecules takes one of {', '.join(ACTIONS)} first, got "
                         f"{argv[0] if argv else 'nothing'}")
    return ACTIONS[argv[0]](argv[1:])
