"""The MOSES protocol for a language model or VAE trained on a CPU budget: a learning curve of
the sample metrics, then MOSES's full table on 30,000 molecules.

    python experiments/molecules_moses/curve.py --model charrnn --workdir runs/moses_charrnn \
        --stages 500 1000 2000 4000 8000 -- --model.hidden 256 --data.batch-size 64

Each stage trains the run up to that step (``gen-jax train``, resuming the run: a killed
experiment goes on where it stopped), samples ``--curve-num`` molecules and scores them with
gen_jax's MOSES metrics against MOSES's test set (FCD on ChemNet when ``--chemnet-weights`` is
given); ``curve_<model>.json`` beside this file collects the points. ``--final-num`` molecules
(MOSES: 30,000) from the last stage get the whole table, for each of ``--seeds``.
Settings after ``--`` go to ``gen-jax train``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def gen_jax(*args: str) -> str:
    """Runs ``gen-jax ARGS`` and returns its standard output (its errors end the experiment)."""
    proc = subprocess.run([sys.executable, "-m", "gen_jax", *args], capture_output=True,
                          text=True)
    if proc.returncode:
        sys.exit(f"gen-jax {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def score(csv: Path, out: Path, args: argparse.Namespace, full: bool) -> dict:
    """MOSES's metrics of a sample file (the curve's points skip TestSF and the filters)."""
    cmd = ["molecules", "eval", str(csv), "--out", str(out), "--data-dir", args.data_dir,
           "--n-jobs", str(args.n_jobs)]
    cmd += (["--chemnet-weights", args.chemnet_weights] if args.chemnet_weights
            else ["--no-fcd"])
    if not full:
        cmd += ["--test-scaffolds", "none", "--no-filters"]
    gen_jax(*cmd)
    return json.loads((out / "metrics.json").read_text())["metrics"]


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("charrnn", "molvae"), required=True)
    parser.add_argument("--data", default="moses")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--stages", type=int, nargs="+", required=True)
    parser.add_argument("--curve-num", type=int, default=2000)
    parser.add_argument("--final-num", type=int, default=30_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--data-dir", default=os.environ.get("GEN_JAX_DATA_DIR"))
    parser.add_argument("--chemnet-weights", default=None)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)
    work = Path(args.workdir)
    out_json = HERE / f"curve_{args.model}.json"
    result = json.loads(out_json.read_text()) if out_json.is_file() else {
        "model": args.model, "data": args.data, "train_args": extra, "points": [],
        "host": os.uname().nodename, "cpus": os.cpu_count()}
    done = {p["step"] for p in result["points"]}
    for stage in args.stages:
        if stage in done:
            continue
        t0 = time.perf_counter()
        gen_jax("train", args.model, "--data.name", args.data, "--data.data-dir", args.data_dir,
                "--train.steps", str(stage), "--train.workdir", str(work), *extra)
        train_s = time.perf_counter() - t0
        csv = work / f"curve_{stage}.csv"
        gen_jax("molecules", "sample", "--workdir", str(work), "--num", str(args.curve_num),
                "--out", str(csv))
        metrics = score(csv, work / f"curve_{stage}_metrics", args, full=False)
        final = json.loads((work / "final_metrics.json").read_text())
        result["points"].append({"step": stage, "train_seconds": round(train_s),
                                 "date": time.strftime("%Y-%m-%d %H:%M"), "test": final,
                                 "metrics": metrics})
        out_json.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result["points"][-1]), flush=True)
    result.setdefault("final", {})
    for seed in args.seeds:
        if str(seed) in result["final"]:
            continue
        csv = work / f"final_seed{seed}.csv"
        gen_jax("molecules", "sample", "--workdir", str(work), "--num", str(args.final_num),
                "--seed", str(seed), "--out", str(csv))
        result["final"][str(seed)] = {"step": args.stages[-1], "num": args.final_num,
                                      "metrics": score(csv, work / f"final_seed{seed}_metrics",
                                                       args, full=True)}
        out_json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result.get("final"), indent=2))


if __name__ == "__main__":
    main()
