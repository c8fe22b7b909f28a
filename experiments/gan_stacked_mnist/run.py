"""Trains (or resumes) DCGAN / PacDCGAN on stacked MNIST with the production engine, then
scores 26,000 samples: each channel labeled by the toolkit's MNIST classifier, modes captured
(of 1,000) and reverse KL of the mode histogram to uniform (PacGAN, Table 2).

    python experiments/gan_stacked_mnist/run.py --pac 2 --steps 4000 --out runs/gan_stacked \\
        [--g-steps 2] [--classifier-dir runs/classifiers] [--score-only] [--record FILE]
    python experiments/gan_stacked_mnist/run.py --report experiments/gan_stacked_mnist/results.json

``--record FILE`` also merges the score into a committed results file (``runs/`` is never
committed and may be lost); ``--report FILE`` prints its table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import config as experiment  # noqa: E402

from gen_jax.metrics import load_classifier, stacked_mnist_coverage  # noqa: E402
from gen_jax.train import build_run, exit_code_of, train  # noqa: E402

NUM_SAMPLES = 26_000


def score(cfg, seed: int, classifier_dir: str, num: int = NUM_SAMPLES) -> dict:
    """``num`` samples of the latest checkpoint (EMA generator if any) -> modes and KL."""
    run, _ = build_run(cfg, "gan", restore=True)
    # the statistics the toolkit samples with (standing ones if the config asks for them)
    variables = run.model.sampling_variables(run.state.variables(ema=True))
    clf = load_classifier("mnist", classifier_dir)
    sample = jax.jit(lambda v, k: run.model.sample(v, k, 1000))
    keys = jax.random.split(jax.random.PRNGKey(20_000 + seed), -(-num // 1000))
    samples = np.concatenate([np.asarray(sample(variables, k)) for k in keys])[:num]
    cov = stacked_mnist_coverage(samples, lambda x: jnp.argmax(clf.logits(x), axis=-1))
    return {"step": int(run.strategy.fetch(run.state.step)), "modes": cov.modes,
            "kl": cov.kl, "num_samples": num,
            "max_mode_share": float(cov.counts.max() / num),
            "classifier": {"arch_hash": clf.record["arch_hash"],
                           "test_accuracy": clf.record["test_accuracy"]}}


def row_key(row: dict) -> tuple:
    return row["pac"], row.get("g_steps", 1), row["seed"], row["step"]


def record(path: Path, row: dict) -> dict:
    """Merges one score row into the results file ``path`` (created if missing): it replaces
    the file's row of the same (pac, g_steps, seed, step), other rows stay."""
    old = json.loads(path.read_text()) if path.exists() else {"runs": []}
    rows = {row_key(r): r for r in old["runs"]} | {row_key(row): row}
    merged = {**old, "num_samples": NUM_SAMPLES, "runs": [rows[k] for k in sorted(rows)]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(merged, indent=2) + "\n")
    tmp.replace(path)
    return merged


def report(summary: dict) -> str:
    """A Markdown table of a results file: one row per (model, generator updates, steps), the
    mean ± standard error over its seeds, beside PacGAN's Table 2."""
    groups: dict[tuple, list[dict]] = {}
    for r in summary["runs"]:
        groups.setdefault((r["pac"], r.get("g_steps", 1), r["step"]), []).append(r)
    lines = ["| model | generator updates per step | steps | seeds | modes (of 1,000) | "
             "reverse KL | largest mode's share |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for (pac, g_steps, step), rows in sorted(groups.items()):
        name = "DCGAN" if pac == 1 else f"PacDCGAN{pac}"
        seeds = ", ".join(str(r["seed"]) for r in rows)
        cells = [mean_se([r[k] for r in rows], fmt) for k, fmt in
                 (("modes", ".1f"), ("kl", ".3f"), ("max_mode_share", ".2%"))]
        lines.append(f"| {name} | {g_steps} | {step:,} | {seeds} | {' | '.join(cells)} |")
    lines.append("| PacGAN Table 2 (100,000 steps, 10 trials) | 2 | 100,000 | | "
                 "PacDCGAN2-4: 1000 | 0.06-0.07 | |")
    return "\n".join(lines)


def mean_se(values: list[float], fmt: str) -> str:
    """``mean ± standard error`` (sample standard deviation / sqrt(n)); one value alone."""
    if len(values) == 1:
        return format(values[0], fmt)
    se = float(np.std(values, ddof=1) / np.sqrt(len(values)))
    return f"{format(float(np.mean(values)), fmt)} ± {format(se, fmt)}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pac", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=experiment.STEPS)
    p.add_argument("--g-steps", type=int, default=1,
                   help="generator updates per step (PacGAN's code: 2); runs with 2 go to "
                        "OUT/pacM_seedS_g2")
    p.add_argument("--out", default="runs/gan_stacked_mnist")
    p.add_argument("--classifier-dir", default="runs/classifiers")
    p.add_argument("--score-only", action="store_true", help="score the latest checkpoint")
    p.add_argument("--record", metavar="FILE", default=None,
                   help="also merge the score into this results file (JSON)")
    p.add_argument("--report", metavar="FILE", default=None,
                   help="print the table of a results file, and nothing else")
    args = p.parse_args(argv)
    if args.report is not None:
        print(report(json.loads(Path(args.report).read_text())))
        return 0
    suffix = "" if args.g_steps == 1 else f"_g{args.g_steps}"
    workdir = str(Path(args.out) / f"pac{args.pac}_seed{args.seed}{suffix}")
    cfg = experiment.make(args.pac, args.seed, args.steps, workdir, g_steps=args.g_steps)
    t0 = time.perf_counter()
    if not args.score_only:
        train(cfg, "gan")
    row = {"date": datetime.date.today().isoformat(), "pac": args.pac, "seed": args.seed,
           "g_steps": args.g_steps,
           **score(cfg, args.seed, args.classifier_dir), "wall_s": time.perf_counter() - t0}
    print(json.dumps(row), flush=True)
    with open(Path(workdir) / "stacked_scores.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    if args.record is not None:
        merged = record(Path(args.record), row)
        print(f"{args.record}: {len(merged['runs'])} scores")
    return 0


if __name__ == "__main__":
    # SIGTERM: the step in flight is checkpointed, one line and exit 143; the same command resumes
    sys.exit(exit_code_of(main, Path(sys.argv[0]).name))
