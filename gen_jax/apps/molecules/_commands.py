"""``gen-jax molecules sample | eval | reference``: molecules from a trained run, MOSES's metric
table of a SMILES file, and reference sets described once."""

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

import numpy as np

from ... import metrics
from ..._files import write_atomic
from ...provenance import of_run
from . import _chem, _data, _moses, _reference
from ._optimize import optimize_main
from ._runs import MoleculeRun

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


def sample_smiles(run: Any, num: int, *, seed: int = 0, temperature: float = 1.0,
                  batch_size: int = 1000) -> tuple[list[str], list[str]]:
    """``num`` molecules drawn from a run trained on a molecule data set: ``(smiles, raw)``,
    ``raw`` the strings in the run's representation (SELFIES runs: decoded to SMILES)."""
    import jax  # noqa: PLC0415

    from ... import models  # noqa: PLC0415

    mrun = MoleculeRun(run)
    if temperature != 1.0 and not isinstance(run.model, models.TemperatureSampling):
        raise ValueError(f"a {run.model_name} run has no temperature; drop --temperature")
    variables = mrun.variables
    size = min(batch_size, num)
    if isinstance(run.model, models.TemperatureSampling):
        draw = jax.jit(lambda k: run.model.sample_at_temperature(variables, k, size, temperature))
    else:
        draw = jax.jit(lambda k: run.model.sample(variables, k, size))
    raw: list[str] = []
    for i in range(-(-num // size)):
        samples = np.asarray(draw(jax.random.fold_in(jax.random.PRNGKey(seed), i)))
        raw += mrun.strings(samples)
    raw = raw[:num]
    smiles = mrun.to_smiles(raw)
    return smiles, raw


def sample_main(argv: Sequence[str]) -> int:
    """``gen-jax molecules sample --workdir RUN [--num N] [--out samples.csv]``."""
    from ... import train  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="gen-jax molecules sample", description="Draw molecules from a run trained on a "
        "molecule data set (gen-jax train charrnn --data.name moses) and write their SMILES "
        "to a CSV file, with a JSON record of the run, step and settings beside it.")
    parser.add_argument("--workdir", required=True, help="the training run")
    parser.add_argument("--num", type=int, default=30_000, help="molecules (MOSES: 30,000)")
    parser.add_argument("--out", default=None, help="CSV path (default: WORKDIR/"
                        "molecules_seedS.csv)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=None, help="draw from the k most likely "
                        "tokens only")
    parser.add_argument("--top-p", type=float, default=None, help="nucleus sampling: draw "
                        "from the smallest set of tokens holding this much probability")
    parser.add_argument("--batch-size", type=int, default=1000, help="molecules per call")
    parser.add_argument("--grid", type=int, default=32, help="draw the first N valid molecules "
                        "as a PNG beside the CSV (0: none)")
    args = parser.parse_args(list(argv))
    if args.num < 1 or args.batch_size < 1 or not args.temperature > 0 or args.grid < 0:
        raise ValueError("--num, --batch-size and --temperature must be positive, --grid not "
                         "negative")
    overrides = {k: v for k, v in (("top_k", args.top_k), ("top_p", args.top_p)) if v is not None}
    run = train.load_run(args.workdir, model_overrides=overrides or None)
    t0 = time.perf_counter()
    smiles, raw = sample_smiles(run, args.num, seed=args.seed, temperature=args.temperature,
                                batch_size=args.batch_size)
    out = Path(args.out or Path(args.workdir) / f"molecules_seed{args.seed}.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    selfies = raw is not smiles
    rows = [("SMILES", "SELFIES")] + list(zip(smiles, raw, strict=True)) if selfies else \
        [("SMILES",)] + [(s,) for s in smiles]
    write_atomic(out, "".join(",".join(r) + "\n" for r in rows))
    drawn = _chem.molecule_grid(smiles, out.with_suffix(".png"), num=args.grid, provenance=of_run(
        run, "generated", "molecules sampled from a gen_jax model")) if args.grid else 0
    step = int(run.strategy.fetch(run.state.step))
    record = {"workdir": str(args.workdir), "model": run.model_name, "step": step,
              "data": run.info.name, "num": args.num, "seed": args.seed,
              "temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p,
              "empty": sum(1 for s in smiles if not s),
              "grid": str(out.with_suffix(".png")) if drawn else None, "drawn": drawn,
              "seconds": round(time.perf_counter() - t0, 1), "date": time.strftime("%Y-%m-%d")}
    write_atomic(out.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    print(json.dumps({"csv": str(out), **record}))
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


ACTIONS = {"sample": sample_main, "eval": eval_main, "reference": reference_main,
           "optimize": optimize_main}


def main(argv: Sequence[str]) -> int:
    """``gen-jax molecules ACTION ...``."""
    argv = list(argv)
    if not argv or argv[0] not in ACTIONS:
        if argv and argv[0] in ("-h", "--help"):
            print(f"usage: gen-jax molecules {{{','.join(ACTIONS)}}} ...\n\n"
                  "  sample     molecules from a trained run, to a CSV file\n"
                  "  eval       MOSES's metrics of a SMILES file\n"
                  "  reference  describe a reference set once\n"
                  "  optimize   steer a run toward a property (bo, gradient, constrained, "
                  "reinvent)")
            return 0
        raise ValueError(f"gen-jax molecules takes one of {', '.join(ACTIONS)} first, got "
                         f"{argv[0] if argv else 'nothing'}")
    return ACTIONS[argv[0]](argv[1:])
