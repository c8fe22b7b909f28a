"""Property optimization from MOSES-trained models, beside JT-VAE's tables (Jin et al. 2018).

    python experiments/molecules_optimize/run.py --vae runs/moses_molvae --lm runs/moses_charrnn \
        --seeds 0 1 2 3 4 --data-dir ../shared/data

Runs ``gen-jax molecules optimize`` for every method, objective and seed (a finished run, one
with a ``result.json``, is skipped, so a killed experiment goes on where it stopped), then
collects ``results.json`` beside this file:

- unconstrained (JT-VAE's Table 1): the best molecules for penalized logP and QED found by
  Bayesian optimization (``bo``: ``--iterations`` rounds of ``--batch`` proposals) and gradient
  ascent in the VAE's latent space, and by REINVENT on the language model, each under the same
  budget of oracle calls per seed (``--iterations x --batch``);
- constrained (JT-VAE's Table 2): improvement of penalized logP of the ``--starts`` lowest-scoring
  of 20,000 test molecules at similarity ``--delta``.

Molecules of more than 38 heavy atoms (ZINC-250k's largest) score nothing, so penalized logP is
not raised by ever longer chains.
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


def optimize(out: Path, args: argparse.Namespace, *options: str) -> dict:
    """One ``gen-jax molecules optimize`` run (skipped when ``out/result.json`` exists)."""
    result = out / "result.json"
    if not result.is_file():
        cmd = [sys.executable, "-m", "gen_jax", "molecules", "optimize", "--data-dir",
               args.data_dir, "--out", str(out), *options]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
        print(f"{out.name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return json.loads(result.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vae", required=True, help="a molvae run trained on MOSES")
    parser.add_argument("--lm", required=True, help="a charrnn / transformer_lm run on MOSES")
    parser.add_argument("--out", default="runs/molecules_optimize")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--objectives", nargs="+", default=["penalized_logp", "qed"])
    parser.add_argument("--methods", nargs="+", default=["bo", "gradient", "reinvent",
                                                         "constrained"])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--labelled", type=int, default=1000)
    parser.add_argument("--starts", type=int, default=800)
    parser.add_argument("--delta", type=float, nargs="+", default=[0.4])
    parser.add_argument("--data-dir", default=os.environ.get("GEN_JAX_DATA_DIR"))
    args = parser.parse_args()
    root = Path(args.out)
    budget = args.iterations * args.batch
    out_json = HERE / "results.json"
    # Runs recorded by earlier invocations (other methods, seeds or machines) are kept.
    earlier = json.loads(out_json.read_text()) if out_json.is_file() else {}
    results = {"vae": args.vae, "lm": args.lm, "budget_per_seed": budget,
               "labelled": args.labelled, "host": os.uname().nodename, "cpus": os.cpu_count(),
               "unconstrained": earlier.get("unconstrained", {}),
               "constrained": earlier.get("constrained", {})}
    for objective in args.objectives:
        for method in (m for m in args.methods if m != "constrained"):
            for seed in args.seeds:
                name = f"{method}_{objective}_seed{seed}"
                common = ["--objective", objective, "--seed", str(seed),
                          "--budget", str(budget)]
                if method == "reinvent":
                    rec = optimize(root / name, args, "--workdir", args.lm, "--method",
                                   "reinvent", *common)
                else:
                    rec = optimize(root / name, args, "--workdir", args.vae, "--method", method,
                                   "--labelled", str(args.labelled), "--iterations",
                                   str(args.iterations), "--batch", str(args.batch), *common)
                results["unconstrained"][name] = rec
                out_json.write_text(json.dumps(results, indent=2) + "\n")
    for delta in args.delta if "constrained" in args.methods else []:
        name = f"constrained_delta{delta}"
        rec = optimize(root / name, args, "--workdir", args.vae, "--method", "constrained",
                       "--objective", "penalized_logp", "--delta", str(delta), "--starts",
                       str(args.starts), "--labelled", str(args.labelled))
        results["constrained"][name] = rec
        out_json.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


def table(results: dict) -> str:
    """Markdown: the top-3 of each method and objective over its seeds, and the constrained
    task."""
    lines = ["| objective | method | seeds | oracle calls / seed | 1st | 2nd | 3rd | "
             "labelled best |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    groups: dict[tuple[str, str], list[dict]] = {}
    for rec in results["unconstrained"].values():
        groups.setdefault((rec["objective"], rec["method"]), []).append(rec)
    for (objective, method), recs in sorted(groups.items()):
        found = sorted({t["smiles"]: t["score"] for r in recs for t in r["top3"]}.items(),
                       key=lambda kv: -kv[1])[:3]
        calls = sum(r["oracle_calls"] for r in recs) / len(recs)
        labelled = max((r.get("labelled_best", float("nan")) for r in recs), default=None)
        cells = [f"{v:.3f}" for _, v in found] + ["-"] * (3 - len(found))
        lines.append(f"| {objective} | {method} | {len(recs)} | {calls:.0f} | "
                     f"{' | '.join(cells)} | "
                     f"{'-' if method == 'reinvent' else f'{labelled:.3f}'} |")
    for name, rec in results["constrained"].items():
        c = rec["constrained"]
        lines.append(f"\n{name}: {c['molecules']} molecules, improvement "
                     f"{c['improvement_mean']:.2f} +- {c['improvement_std']:.2f}, success "
                     f"{100 * c['success']:.1f}%, similarity of successes "
                     f"{c['similarity_of_successes_mean']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
