"""The diffusion MNIST experiment after (or during) training: sample quality against the
number of network evaluations, and bits/dim through the probability-flow ODE.

    python experiments/diffusion_mnist/run.py curve --num-samples 2000
    python experiments/diffusion_mnist/run.py headline --num-samples 10000
    python experiments/diffusion_mnist/run.py bpd --num-examples 500

``curve``: Frechet distance, KID and precision/recall on the toolkit's MNIST classifier
features (``gen-jax eval``'s sample-quality section, against as many test images as samples)
for the samplers ddpm, ddim, heun and dpmpp_2m at several NFE; ``headline``: the config's
sampler with 10,000 samples; ``bpd``: test bits/dim through the ODE (Hutchinson's
estimator, tolerances 1e-5) on the first test images. Every measurement is appended to
``results.jsonl`` beside this file with the run's step, so the script resumes where it
stopped and the learning curve accumulates.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from gen_jax.evaluation import EvalSettings, evaluate_run
from gen_jax.train import load_run

HERE = Path(__file__).parent
CURVE = {"ddpm": (10, 20, 50, 100), "ddim": (10, 20, 50, 100), "heun": (5, 10, 25),
         "dpmpp_2m": (5, 10, 20, 50)}


def done(results: Path) -> set[tuple]:
    if not results.is_file():
        return set()
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return {(r["kind"], r["step"], r.get("sampler"), r.get("steps"), r.get("num"))
            for r in rows}


def measure(workdir: str, kind: str, results: Path, num: int, *, sampler: str | None = None,
            steps: int | None = None, likelihood: str | None = None) -> None:
    overrides = {k: v for k, v in dict(sampler=sampler, steps=steps,
                                       likelihood=likelihood).items() if v is not None}
    run = load_run(workdir, model_overrides=overrides)
    step = int(run.strategy.fetch(run.state.step))
    if (kind, step, sampler, steps, num) in done(results):
        return
    start = time.time()
    if kind == "bpd":
        settings = EvalSettings(num_examples=num, quality=False, grid_size=16, likelihood="ode",
                                out=str(Path(workdir) / f"eval_bpd_{step}.json"))
    else:
        # the first ``num`` test images: the reference set of the same size as the samples,
        # and the model's own metrics (denoising loss, DDPM bound) on them
        settings = EvalSettings(num_examples=num, num_samples=num, quality=True, grid_size=64,
                                sampler=sampler, steps=steps,
                                out=str(Path(workdir) / f"eval_{sampler}{steps}_{step}.json"))
    report = evaluate_run(run, workdir, settings)
    row = {"kind": kind, "step": step, "sampler": sampler, "steps": steps, "num": num,
           "seconds": round(time.time() - start, 1), "date": time.strftime("%Y-%m-%d"),
           "nfe": (report.get("sampler") or {}).get("nfe"),
           "likelihood": report["likelihood"], "sample_quality": report["sample_quality"]}
    with results.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps({k: row[k] for k in ("kind", "step", "sampler", "steps", "nfe",
                                          "seconds")}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("curve", "headline", "bpd"))
    p.add_argument("--workdir", default="runs/diffusion_mnist")
    p.add_argument("--num-samples", type=int, default=2000)
    p.add_argument("--num-examples", type=int, default=500)
    p.add_argument("--results", type=Path, default=HERE / "results.jsonl")
    args = p.parse_args()
    if args.what == "curve":
        for sampler, grid in CURVE.items():
            for steps in grid:
                measure(args.workdir, "curve", args.results, args.num_samples, sampler=sampler,
                        steps=steps)
    elif args.what == "headline":
        measure(args.workdir, "headline", args.results, args.num_samples)
    else:
        measure(args.workdir, "bpd", args.results, args.num_examples)


if __name__ == "__main__":
    main()
