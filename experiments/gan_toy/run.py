"""Trains GAN and PacGAN4 on ring8_r1 and grid25 over several seeds with the production engine and
scores 2,500 samples of each with PacGAN's mode metrics; writes each run's score.json, then
results.json (every finished run under --out) and the README table. A killed sweep resumes: each
run from its last checkpoint, finished runs are skipped.

    nice python experiments/gan_toy/run.py [--seeds 5] [--steps 6000] [--lr 1e-3] [--out DIR]
    # the paper's regime for all 20 runs; the same command in several processes shares the
    # sweep (each run is locked by the process training it). On 2 cores, two processes pinned
    # to one core each run 1.3x the steps/s of one process using both:
    for core in 0 1; do taskset -c $core nice python experiments/gan_toy/run.py \
        --data grid25 ring8_r1 --steps 400000 --lr 1e-4 --b1 0.8 --schedule constant \
        --update simultaneous --checkpoint-every 10000 --out runs/gan_toy_paper & done
    # only some seeds (--first-seed 1 --seeds 4: seeds 1-4), e.g. those not yet recorded
    # the paper's optimizer and length, resumable, scored while it runs:
    nice python experiments/gan_toy/run.py --data grid25 --pac 4 --seeds 1 --steps 400000 \
        --lr 1e-4 --b1 0.8 --schedule constant --checkpoint-every 10000 --out runs/gan_toy_long
    python experiments/gan_toy/run.py --data grid25 --pac 4 --seeds 1 --steps 400000 \
        --lr 1e-4 --b1 0.8 --schedule constant --out runs/gan_toy_long --score-latest
    # --ema-decay 0.9999: the runs a command starts also track an EMA of the generator, scored
    # beside the protocol's score; --record FILE: merge the finished runs into a results file
    # kept with the README; --report FILE...: the table of results files
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import json
import math
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import config as experiment  # noqa: E402

from gen_jax._files import write_atomic  # noqa: E402
from gen_jax.metrics import toy_mode_coverage  # noqa: E402
from gen_jax.train import build_run, exit_code_of, train  # noqa: E402

NUM_SAMPLES = 2500
STANDING_BATCHES, STANDING_BATCH = 64, 400  # standing statistics: 25,600 noise vectors
TOY_SETS = ("ring8", "ring8_r1", "grid25")  # table order
PUBLISHED = {  # PacGAN Table 1, 2-D grid (mean of 10 trials): modes, high-quality %, KL
    ("grid25", 1): "17.3 / 94.8 / 0.70",
    ("grid25", 4): "24.8 / 93.6 / 0.04",
}


def draw(model, variables, seed: int, num: int) -> jax.Array:
    """The ``num`` samples a score is of: ``variables``' generator on the noise of key
    ``10_000 + seed``."""
    return jax.jit(lambda v, k: model.sample(v, k, num))(variables,
                                                         jax.random.PRNGKey(10_000 + seed))


def standing(model, variables):
    """``variables`` with the generator's batch-norm statistics recomputed for its weights
    (standing statistics: ``STANDING_BATCHES`` batches of ``STANDING_BATCH`` noise vectors)."""
    return model.standing_variables(variables, STANDING_BATCHES, STANDING_BATCH)


def score(cfg, seed: int, num: int = NUM_SAMPLES) -> dict:
    """``num`` samples (the protocol's 2,500) of the run's latest checkpoint -> mode metrics,
    and the smallest and largest captured mode's share of the high-quality samples.

    The protocol's score is of the trained weights with the batch-norm running statistics.
    On the same noise, ``"standing"`` scores the trained weights with standing statistics
    (recomputed for the final weights, as PacGAN's code has them when it samples: see
    README.md), and a run that tracks an EMA of the generator is also scored with the EMA
    weights (``"ema"``), with standing statistics too (the running ones belong to the trained
    weights).
    """
    run, _ = build_run(cfg, "gan", restore=True)
    variables = run.state.variables()
    # the statistics the toolkit samples with (standing ones if the config asks for them)
    out = {"step": int(run.strategy.fetch(run.state.step)),
           **cover(draw(run.model, run.model.sampling_variables(variables), seed, num),
                   cfg.data.name)}
    if cfg.model.batch_norm:
        out["standing"] = cover(draw(run.model, standing(run.model, variables), seed, num),
                                cfg.data.name)
    if run.state.ema_params is not None:
        ema = standing(run.model, run.state.variables(ema=True))
        out["ema"] = {"decay": cfg.optim.ema_decay,
                      **cover(draw(run.model, ema, seed, num), cfg.data.name)}
    return out


def cover(samples: jax.Array, data: str) -> dict:
    """PacGAN's mode metrics of ``samples`` of the toy set ``data``, with the smallest and
    largest captured mode's share of the high-quality samples."""
    cov = toy_mode_coverage(np.asarray(samples), data)
    shares = cov.counts[cov.counts > 0] / max(cov.counts.sum(), 1)
    return {"modes": cov.modes, "high_quality": 100 * cov.high_quality,
            # None (JSON null) when no sample is high quality: no mode histogram, no KL
            "kl": None if math.isnan(cov.kl) else cov.kl,
            "min_share": float(shares.min()) if shares.size else 0.0,
            "max_share": float(shares.max(initial=0.0))}


def make(args, data: str, pac: int, seed: int, workdir: Path):
    """The command's config of one run. A run keeps the ``ema_decay`` it was started with
    (its saved config's): an EMA cannot be added to, or dropped from, a run in progress, and
    it does not change training, so it is not part of the regime."""
    ema_decay = args.ema_decay
    if (saved := workdir / "config.json").exists():
        ema_decay = json.loads(saved.read_text())["optim"].get("ema_decay")
    return experiment.make(data, pac, seed, args.steps, args.lr, workdir=str(workdir),
                           b1=args.b1, schedule=args.schedule,
                           checkpoint_every=args.checkpoint_every, update=args.update,
                           paper_bn=args.paper_bn, ema_decay=ema_decay)


@contextlib.contextmanager
def claim(workdir: Path, *, wait: bool = False):
    """Yields whether this process holds ``workdir``'s lock (``flock``; ``wait``: block until
    it is free): a run is trained by one process of a shared sweep; the lock ends with the
    process, so a killed sweep's runs are free again."""
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True


REGIME = (("model", "update"), ("model", "bn_momentum"), ("model", "pack_batch_norm"),
          ("optim", "learning_rate"), ("optim", "b1"), ("optim", "schedule"))


def regime_mismatch(workdir: Path, cfg) -> str | None:
    """What differs between the run saved in ``workdir`` and ``cfg`` in optimizer or update
    order (and length, for a decaying schedule sized by it), or None: resuming it under this
    command would mix two regimes, and its score belongs to another table."""
    saved = workdir / "config.json"
    if not saved.exists():
        return None
    old = json.loads(saved.read_text())
    fields = REGIME if cfg.optim.schedule == "constant" else (*REGIME, ("train", "steps"))
    for section, name in fields:
        now = getattr(getattr(cfg, section), name)
        # A field the saved config lacks is older than the field: the run had its default.
        was = old[section].get(name, getattr(type(getattr(cfg, section))(), name))
        if was != now:
            return (f"{workdir} was trained with {section}.{name}={was!r}, this command asks "
                    f"for {now!r}")
    return None


def check_same_regime(workdir: Path, cfg) -> None:
    """Exits with one line if ``workdir`` holds a run of another regime (see
    :func:`regime_mismatch`)."""
    if mismatch := regime_mismatch(workdir, cfg):
        sys.exit(f"{mismatch}; use another --out")


def regime_of(summary: dict) -> tuple:
    """What a results.json's runs were trained with (fields older files lack at their
    defaults then): results of different regimes do not belong in one table."""
    return (summary["steps"], summary["lr"], summary["b1"], summary["schedule"],
            summary.get("update", "alternating"), summary.get("paper_bn", False))


def mean_se(values: list[float]) -> tuple[float, float]:
    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=5, help="number of seeds per (data, pac)")
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds FIRST .. FIRST + SEEDS - 1 (e.g. to skip seeds already recorded)")
    p.add_argument("--steps", type=int, default=experiment.STEPS)
    p.add_argument("--lr", type=float, default=experiment.LR)
    p.add_argument("--b1", type=float, default=experiment.B1)
    p.add_argument("--schedule", default="cosine", choices=["cosine", "constant"])
    p.add_argument("--update", default="alternating", choices=["alternating", "simultaneous"],
                   help="the two players' update order (simultaneous: the paper's)")
    p.add_argument("--paper-bn", action="store_true",
                   help="the paper's generator batch norm: running statistics decaying by "
                        "0.95, each pack position normalized on its own")
    p.add_argument("--ema-decay", type=float, default=None,
                   help="runs started by this command track an EMA of the generator with this "
                        "decay (training is unchanged; the score adds the EMA generator's, "
                        "with standing batch-norm statistics)")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="checkpoint interval (default: only at the end); a killed run resumes")
    p.add_argument("--score-latest", action="store_true",
                   help="only score the latest checkpoint of each run (e.g. of a long run "
                        "still in progress) and print its row")
    p.add_argument("--num-samples", type=int, default=NUM_SAMPLES,
                   help="with --score-latest: samples per score (the protocol's 2,500 by "
                        "default; more to tell the generator's KL from sampling noise)")
    p.add_argument("--data", nargs="*", default=["ring8_r1", "grid25"],
                   choices=TOY_SETS)
    p.add_argument("--pac", nargs="*", type=int, default=[1, 4])
    p.add_argument("--out", default="runs/gan_toy_sweep")
    p.add_argument("--record", metavar="FILE", default=None,
                   help="only merge the finished runs under --out (of this command's regime) "
                        "into the results file FILE, e.g. one committed with the README, and "
                        "print its table")
    p.add_argument("--report", nargs="*", default=None,
                   help="only print the table of these results.json files (merged)")
    args = p.parse_args(argv)
    if args.num_samples != NUM_SAMPLES and not args.score_latest:
        p.error(f"--num-samples applies to --score-latest only; the sweep's table scores the "
                f"protocol's {NUM_SAMPLES}")
    if args.first_seed < 0 or args.seeds < 1:
        p.error(f"--first-seed must be >= 0 and --seeds >= 1, got {args.first_seed} and "
                f"{args.seeds}")
    if args.report is not None:
        if missing := [f for f in args.report if not Path(f).is_file()]:
            p.error(f"--report: no results file {missing[0]}; a sweep writes OUT/results.json "
                    "when all its runs are done")
        parts = [json.loads(Path(f).read_text()) for f in args.report]
        regimes = {f: regime_of(part) for f, part in zip(args.report, parts, strict=True)}
        if len(set(regimes.values())) > 1:
            p.error(f"--report: these results are of different regimes {regimes}; report "
                    "each regime on its own")
        merged = {**parts[0], "runs": [r for part in parts for r in part["runs"]],
                  "wall_s": sum(part["wall_s"] for part in parts)}
        print_tables(merged)
        train_s = sum(r.get("train_s") or 0.0 for r in merged["runs"])
        print(f"steps {merged['steps']}, lr {merged['lr']}, "
              f"update {merged.get('update', 'alternating')}, "
              f"paper_bn {merged.get('paper_bn', False)}, runs {len(merged['runs'])}, "
              f"train+score wall {train_s / 60:.1f} min")
        return 0
    out = Path(args.out)
    if args.record is not None:
        merged = record(Path(args.record), out, args)
        print_tables(merged)
        print(f"{args.record}: {len(merged['runs'])} runs")
        return 0
    start = time.perf_counter()
    # Seed-major: a sweep stopped early has whole rows of the table over its first seeds.
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    sweep = [(seed, data, pac) for seed in seeds for data in args.data
             for pac in args.pac]
    if args.score_latest:
        for seed, data, pac in sweep:
            cfg = make(args, data, pac, seed, out / f"{data}_pac{pac}_seed{seed}")
            if not any((Path(cfg.train.workdir) / "checkpoints").glob("[0-9]*")):
                print(f"{cfg.train.workdir}: no checkpoint yet", flush=True)
                continue
            print(json.dumps({"data": data, "pac": pac, "seed": seed, "num_samples":
                              args.num_samples, **score(cfg, seed, args.num_samples)}),
                  flush=True)
        return 0
    # Runs another process holds are skipped at first, then waited for: a run whose process
    # died is taken over, and the last process to finish sees every run done.
    pending = sweep
    for wait in (False, True):
        held_elsewhere = []
        for seed, data, pac in pending:
            workdir = out / f"{data}_pac{pac}_seed{seed}"
            with claim(workdir, wait=wait) as mine:
                if not mine:
                    print(f"{workdir}: another process is training it; next run", flush=True)
                    held_elsewhere.append((seed, data, pac))
                    continue
                cfg = make(args, data, pac, seed, workdir)
                check_same_regime(workdir, cfg)
                done = workdir / "score.json"  # a finished run is scored once, then skipped
                if done.exists() and json.loads(done.read_text())["step"] == args.steps:
                    print(done.read_text(), flush=True)
                    continue
                t0 = time.perf_counter()
                train(cfg, "gan")
                row = {"data": data, "pac": pac, "seed": seed, "update": args.update,
                       "paper_bn": args.paper_bn, **score(cfg, seed),
                       "train_s": time.perf_counter() - t0}
                print(json.dumps(row), flush=True)
                write_atomic(done, json.dumps(row))
        pending = held_elsewhere
    summary = {**regime_header(args), "wall_s": time.perf_counter() - start,
               "runs": finished_runs(out, args)}
    summary["seeds"] = len({r["seed"] for r in summary["runs"]})
    write_atomic(out / "results.json", json.dumps(summary, indent=2))
    print_tables(summary)
    return 0


def regime_header(args) -> dict:
    """A results file's fields before its runs: the date and the command's regime."""
    return {"date": datetime.date.today().isoformat(), "steps": args.steps, "lr": args.lr,
            "b1": args.b1, "schedule": args.schedule, "update": args.update,
            "paper_bn": args.paper_bn}


def finished_runs(out: Path, args) -> list[dict]:
    """The score.json rows of every finished run under ``out`` (also those of other processes
    sharing the sweep) trained in the command's regime."""
    def this_regime(run: dict, workdir: Path) -> bool:  # the command's config for that run
        like = make(args, run["data"], run["pac"], run["seed"], workdir)
        return regime_mismatch(workdir, like) is None

    runs = [(json.loads(f.read_text()), f.parent) for f in sorted(out.glob("*/score.json"))]
    return [r for r, workdir in runs
            if this_regime(r, workdir) and r["step"] == args.steps
            and r.get("update", "alternating") == args.update]


def record(path: Path, out: Path, args) -> dict:
    """Merges the finished runs under ``out`` into the results file ``path`` (created if
    missing), one row per (data, pac, seed): a run under ``out`` replaces the file's row of
    the same run, rows of runs no longer under ``out`` stay. ``runs/`` is never committed and
    may be lost; a committed results file keeps what was measured. Its ``wall_s`` is the sum
    of the rows' ``train_s`` (each the time of the process that finished the run). Exits with
    one line if the file holds another regime."""
    header = regime_header(args)
    old = json.loads(path.read_text()) if path.exists() else {**header, "wall_s": 0.0,
                                                              "runs": []}
    if regime_of(old) != regime_of(header):
        sys.exit(f"--record: {path} holds runs of regime {regime_of(old)}, this command's is "
                 f"{regime_of(header)}; record each regime in its own file")
    key = lambda r: (r["data"], r["pac"], r["seed"])  # noqa: E731
    new = finished_runs(out, args)
    runs = {key(r): r for r in old["runs"]} | {key(r): r for r in new}
    merged = {**old, "date": header["date"],
              "runs": [runs[k] for k in sorted(runs)]}
    merged["seeds"] = len({r["seed"] for r in merged["runs"]})
    merged["wall_s"] = sum(r.get("train_s") or 0.0 for r in merged["runs"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(merged, indent=2) + "\n")
    return merged


def model_rows(summary: dict):
    """``(data, pac, model name, runs)`` for each (data, pac) with runs, in the table's order."""
    for data, pac in [(d, p) for d in TOY_SETS for p in (1, 4)]:
        rows = [r for r in summary["runs"] if r["data"] == data and r["pac"] == pac]
        if rows:
            yield data, pac, "GAN" if pac == 1 else f"PacGAN{pac}", rows


def measured(value) -> bool:
    """A metric a run has (a run without high-quality samples has no KL: None or NaN)."""
    return value is not None and not math.isnan(value)


def table(summary: dict) -> str:
    """Markdown rows: ours (mean +- s.e. over the runs, one per seed; a single run's s.e. is
    written 0) beside PacGAN Table 1."""
    lines = ["| data | model | runs | modes | high-quality % | reverse KL | PacGAN Table 1: "
             "modes / high-quality % / KL |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for data, pac, name, rows in model_rows(summary):
        cells = []
        for key, fmt in (("modes", "{:.1f} ± {:.1f}"), ("high_quality", "{:.1f} ± {:.1f}"),
                         ("kl", "{:.3f} ± {:.3f}")):
            # A run without high-quality samples has no KL: the mean is over those with one.
            values = [r[key] for r in rows if measured(r[key])]
            if not values:
                cells.append("none (no run had a high-quality sample)")
                continue
            cell = fmt.format(*mean_se(values))
            if len(values) < len(rows):
                cell += f" ({len(values)} of {len(rows)} runs; the others had no " \
                        "high-quality sample)"
            cells.append(cell)
        pub = PUBLISHED.get((data, pac), "see the paper's Table 1" if data == "ring8_r1"
                            else "none (the paper's ring has radius 1: ring8_r1)")
        lines.append(f"| {data} | {name} | {len(rows)} | {' | '.join(cells)} | {pub} |")
    return "\n".join(lines)


PAIRED = {"ema": "EMA", "standing": "standing"}  # score variants a run may add, and their names


def paired_table(summary: dict, variant: str) -> str:
    """Markdown rows pairing each run's protocol score (its trained weights, running statistics)
    with its ``variant`` score on the same noise (``"ema"``: its EMA generator; ``"standing"``:
    its trained weights with standing statistics): ``weights -> variant (mean paired change +-
    s.e.)`` over the runs that have one; an empty string when none has."""
    name = PAIRED[variant]
    lines = ["| data | model |" + (" EMA decay |" if variant == "ema" else "") + " runs | "
             + " | ".join(f"{m}: weights → {name} (change)"
                          for m in ("modes", "high-quality %", "reverse KL")) + " |",
             "| --- | --- |" + (" --- |" if variant == "ema" else "") + " --- | --- | --- | --- |"]
    for data, _, model, rows in model_rows(summary):
        pairs = [(r, r[variant]) for r in rows if variant in r]
        if not pairs:
            continue
        cells = []
        for key, digits in (("modes", 1), ("high_quality", 1), ("kl", 3)):
            both = [(w[key], e[key]) for w, e in pairs if measured(w[key]) and measured(e[key])]
            if not both:
                cells.append("none (no pair with both values)")
                continue
            weights, other = np.mean([w for w, _ in both]), np.mean([e for _, e in both])
            change, se = mean_se([e - w for w, e in both])
            cell = (f"{weights:.{digits}f} → {other:.{digits}f} "
                    f"({change:+.{digits}f} ± {se:.{digits}f})")
            if len(both) < len(pairs):
                cell += f" ({len(both)} of {len(pairs)} runs)"
            cells.append(cell)
        decays = (" " + ", ".join(sorted({str(e["decay"]) for _, e in pairs})) + " |"
                  if variant == "ema" else "")
        lines.append(f"| {data} | {model} |{decays} {len(pairs)} | {' | '.join(cells)} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def print_tables(summary: dict) -> None:
    """The table of means, then each paired table some run has."""
    print(table(summary))
    for variant in PAIRED:
        if text := paired_table(summary, variant):
            print(f"\n{text}\n")


if __name__ == "__main__":
    # SIGTERM: the step in flight is checkpointed, one line and exit 143; the same command resumes
    sys.exit(exit_code_of(main, Path(sys.argv[0]).name))
