"""``gen-jax audit``: membership-inference attacks on a trained run, as JSON and markdown."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from ..._files import write_atomic
from ...train import load_run, run_privacy
from ._audit import ATTACKS, audit


def _markdown(report: dict) -> str:
    lines = [f"# Membership-inference audit of {report['workdir']} (step {report['step']})", "",
             f"{report['num']} members ({report['members_from']}) against as many non-members "
             f"({report['nonmembers_from']}); an attack that cannot tell them apart has AUROC "
             "0.5 and TPR equal to the FPR.", ""]
    if report["privacy"]:
        lines += [f"Trained with differential privacy: epsilon {report['privacy']['epsilon']:.3g}"
                  f" at delta {report['privacy']['delta']:g}.", ""]
    lines += ["| attack | AUROC | TPR at 1% FPR | TPR at 0.1% FPR | score |",
              "| --- | ---: | ---: | ---: | --- |"]
    for name, r in report["attacks"].items():
        lines.append(f"| {name} | {r['auroc']:.4f} | {r['tpr_at_1pct_fpr']:.4f} | "
                     f"{r['tpr_at_0_1pct_fpr']:.4f} | {r['description']} |")
    lines += ["", "Samples that copy training examples: the memorization panel and the "
              "authenticity / memorized fraction of `gen-jax eval`."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str]) -> int:
    """``gen-jax audit --workdir RUN [--num 1000] [--attacks loss distance] [--out FILE]``."""
    parser = argparse.ArgumentParser(
        prog="gen-jax audit", description="Membership-inference attacks on a trained run: how "
        "well its training examples can be told from held-out ones of the same distribution "
        "(AUROC, TPR at 1% and 0.1% FPR); writes JSON and markdown, prints the table.")
    parser.add_argument("--workdir", required=True, help="the run's output folder")
    parser.add_argument("--attacks", nargs="+", default=None, choices=ATTACKS,
                        help="loss: the per-example loss (a GAN: its discriminator); distance: "
                        "to the nearest generated sample (default: those that apply)")
    parser.add_argument("--num", type=int, default=1000, help="members, and as many "
                        "non-members (the held-out split, else the eval split)")
    parser.add_argument("--num-samples", type=int, default=2000, help="generated samples for "
                        "the distance attack")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="the JSON file (default: "
                        "WORKDIR/audit.json; the markdown beside it)")
    args = parser.parse_args(list(argv))
    if args.num < 1 or args.num_samples < 1:
        raise ValueError("--num and --num-samples must be positive")
    run = load_run(args.workdir)
    report = {"workdir": str(args.workdir), "model": run.model_name,
              "step": int(run.strategy.fetch(run.state.step)),
              **audit(run, attacks=None if args.attacks is None
                      else tuple(dict.fromkeys(args.attacks)), num=args.num,
                      num_samples=args.num_samples, seed=args.seed)}
    dp = run_privacy(args.workdir, report["step"])
    report["privacy"] = None if dp is None else {"epsilon": dp["epsilon"], "delta": dp["delta"]}
    out = Path(args.out or Path(args.workdir) / "audit.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, json.dumps(report, indent=2) + "\n")
    markdown = _markdown(report)
    write_atomic(out.with_suffix(".md"), markdown)
    print(markdown + f"\nwritten: {out}, {out.with_suffix('.md')}")
    return 0
