"""``gen-jax molecules optimize``: steer a trained run toward a property.

Methods: ``bo`` (Bayesian optimization in a molvae's latent space), ``gradient`` (gradient
ascent of a latent property predictor), ``constrained`` (JT-VAE's task: improve each start
molecule while keeping Tanimoto similarity >= delta) and ``reinvent`` (policy-gradient
fine-tuning of a charrnn / transformer_lm). Every scored molecule is written as it comes
(``scored.csv``), so a killed run keeps what it found.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ..._files import write_atomic
from ...provenance import of_run
from . import _chem, _data
from ._latent_opt import (
    Improvement,
    LatentSpace,
    bayesian_optimization,
    constrained_optimization,
    fit_predictor,
    gradient_ascent,
)
from ._objective import ZINC_MAX_HEAVY_ATOMS, Objective, Oracle, Round, objective
from ._reinvent import REWARD_RANGES, reinvent, reward_map
from ._runs import MoleculeRun

METHODS = ("bo", "gradient", "constrained", "reinvent")
_TRAIN_SPLIT = {"moses": "train", "qm9": "all"}
_TEST_SPLIT = {"moses": "test"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gen-jax molecules optimize", description="Steer a trained run toward a molecular "
        "property under a budget of oracle calls (distinct valid molecules scored): Bayesian "
        "optimization or gradient ascent in a molvae's latent space, JT-VAE's constrained task, "
        "or REINVENT fine-tuning of a charrnn / transformer_lm.")
    p.add_argument("--workdir", required=True, help="the training run")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--objective", default="penalized_logp", help="a property ("
                   f"{', '.join(_chem.PROPERTIES)}) or module:function of an RDKit molecule; "
                   "maximized")
    p.add_argument("--max-heavy-atoms", type=int, default=ZINC_MAX_HEAVY_ATOMS,
                   help="larger molecules score nothing (0: no cap; default: ZINC-250k's "
                   "largest)")
    p.add_argument("--budget", type=int, default=500, help="oracle calls (bo, gradient, "
                   "reinvent)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="folder for scored.csv, result.json, best.png "
                   "and reinvent's agent/ (default: WORKDIR/optimize/METHOD_OBJECTIVE_seedS)")
    p.add_argument("--data-dir", default=None, help="folder with moses/ or qm9/ (default: "
                   "$GEN_JAX_DATA_DIR)")
    g = p.add_argument_group("latent methods (bo, gradient, constrained)")
    g.add_argument("--labelled", type=int, default=1000, help="molecules of the run's training "
                   "set scored to fit the GP / predictor (not counted as oracle calls)")
    g.add_argument("--labelled-from", default=None, help="SMILES file to draw them from "
                   "(default: the run's data set)")
    g.add_argument("--predictor-steps", type=int, default=3000, help="gradient, constrained: "
                   "training steps of the latent property predictor")
    g.add_argument("--iterations", type=int, default=10, help="bo: rounds")
    g.add_argument("--batch", type=int, default=50, help="bo: points proposed per round")
    g.add_argument("--keep-invalid-out", action="store_true", help="bo: leave points that "
                   "decode to no scorable molecule out of the GP (JT-VAE; default: they enter "
                   "it with the lowest labelled score)")
    g.add_argument("--steps", type=int, default=80, help="gradient, constrained: ascent steps")
    g.add_argument("--step-size", type=float, default=0.1, help="gradient, constrained")
    g.add_argument("--starts", type=int, default=50, help="gradient: paths from the best "
                   "labelled molecules; constrained: molecules improved (JT-VAE: 800)")
    g.add_argument("--starts-from", default=None, help="constrained: SMILES file of start "
                   "molecules (default: the lowest-scoring of --start-pool test molecules)")
    g.add_argument("--start-pool", type=int, default=20_000, help="constrained: test "
                   "molecules the lowest-scoring starts are picked from")
    g.add_argument("--delta", type=float, default=0.4, help="constrained: similarity bound")
    r = p.add_argument_group("reinvent")
    r.add_argument("--batch-size", type=int, default=64)
    r.add_argument("--max-steps", type=int, default=1000, help="stop after this many steps "
                   "even if the budget is not spent")
    r.add_argument("--sigma", type=float, default=60.0, help="weight of the reward in the "
                   "augmented likelihood")
    r.add_argument("--learning-rate", type=float, default=5e-4)
    r.add_argument("--reward-range", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="scores mapped linearly onto rewards 0..1 (defaults for " +
                   ", ".join(REWARD_RANGES) + ")")
    return p


def _check(args: argparse.Namespace) -> None:
    positive = {"--budget": args.budget, "--labelled": args.labelled,
                "--iterations": args.iterations, "--batch": args.batch, "--steps": args.steps,
                "--starts": args.starts, "--start-pool": args.start_pool,
                "--batch-size": args.batch_size, "--max-steps": args.max_steps,
                "--predictor-steps": args.predictor_steps}
    bad = [k for k, v in positive.items() if v < 1]
    if bad:
        raise ValueError(f"{', '.join(bad)} must be positive")
    if args.max_heavy_atoms < 0 or not args.step_size > 0:
        raise ValueError("--max-heavy-atoms must not be negative and --step-size must be "
                         "positive")
    if not 0.0 <= args.delta <= 1.0:
        raise ValueError(f"--delta must lie in [0, 1], got {args.delta}")
    if args.method == "reinvent" and args.reward_range is None:
        name = args.objective
        if name not in REWARD_RANGES:
            raise ValueError(f"--reward-range LOW HIGH is needed for {name!r} (defaults exist "
                             f"for {', '.join(REWARD_RANGES)})")


def _dataset_smiles(mrun: MoleculeRun, split: dict[str, str], what: str,
                    data_dir: str | None) -> list[str]:
    name = mrun.run.info.name
    if name not in split:
        raise ValueError(f"the run was trained on {name!r}: pass {what} (a SMILES file)")
    return _data.dataset_smiles(name, split[name], data_dir)


def _draw(smiles: list[str], num: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [smiles[i] for i in rng.choice(len(smiles), min(num, len(smiles)), replace=False)]


def _labelled(args: argparse.Namespace, mrun: MoleculeRun, obj: Objective,
              space: LatentSpace) -> tuple[list[str], np.ndarray, np.ndarray]:
    pool = (_data.read_smiles(args.labelled_from) if args.labelled_from else
            _dataset_smiles(mrun, _TRAIN_SPLIT, "--labelled-from", args.data_dir))
    smiles = _draw(pool, args.labelled, args.seed)
    z, keep = space.encode(smiles)
    smiles = [smiles[i] for i in keep]
    scores = np.array([obj.score(s) for s in smiles])
    if np.isfinite(scores).sum() < 10:
        raise ValueError(f"only {np.isfinite(scores).sum()} labelled molecules could be read "
                         "and scored; give more (--labelled) or another --labelled-from")
    return smiles, z, scores


def _starts(args: argparse.Namespace, mrun: MoleculeRun, obj: Objective) -> list[str]:
    if args.starts_from:
        return _data.read_smiles(args.starts_from)[:args.starts]
    pool = _draw(_dataset_smiles(mrun, _TEST_SPLIT, "--starts-from", args.data_dir),
                 args.start_pool, args.seed)
    scores = np.array([obj.score(s) for s in pool])
    order = np.argsort(np.where(np.isnan(scores), np.inf, scores))
    return [pool[i] for i in order[:args.starts] if not math.isnan(scores[i])]


class _Writer:
    """``scored.csv`` rewritten after each round (atomically): every molecule scored so far."""

    def __init__(self, out: Path, oracle: Oracle, t0: float):
        self.out, self.oracle, self.t0 = out, oracle, t0
        self.rounds = 0

    def save(self) -> None:
        rows = "".join(f"{s},{v!r},{c}\n" for s, v, c in self.oracle.history)
        write_atomic(self.out / "scored.csv", "SMILES,score,call\n" + rows)

    def __call__(self, r: Round) -> None:
        self.rounds += 1
        self.save()
        best = self.oracle.best(1)
        top = best[0][1] if best else math.nan
        valid = float(np.isfinite(r.scores).mean()) if len(r.scores) else math.nan
        print(f"round {self.rounds}: {r.calls} oracle calls, scored {valid:.2f}, best {top:.3f}, "
              f"{time.perf_counter() - self.t0:.0f} s", file=sys.stderr, flush=True)


def _progress(total: int, t0: float):
    done: list[Improvement] = []

    def report(r: Improvement) -> None:
        done.append(r)
        if len(done) % 50 == 0 or len(done) == total:
            print(f"{len(done)}/{total} molecules, success {np.mean([d.success for d in done]):.2f}"
                  f", {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return report


def _constrained_record(results: list[Improvement], out: Path) -> dict[str, Any]:
    rows = "".join(f"{r.start},{r.start_score!r},{r.best},{r.best_score!r},{r.similarity!r},"
                   f"{r.candidates},{r.reconstruction_similarity!r}\n" for r in results)
    write_atomic(out / "constrained.csv", "start,start_score,best,best_score,similarity,"
                 "candidates,reconstruction_similarity\n" + rows)
    if not results:
        return {"molecules": 0}
    imp = np.array([r.improvement for r in results])
    won = [r for r in results if r.success]
    return {"molecules": len(results), "success": len(won) / len(results),
            "improvement_mean": float(np.nanmean(imp)), "improvement_std": float(np.nanstd(imp)),
            "improvement_of_successes_mean": (float(np.mean([r.improvement for r in won]))
                                              if won else None),
            "similarity_of_successes_mean": (float(np.mean([r.similarity for r in won]))
                                             if won else None),
            "candidates_mean": float(np.mean([r.candidates for r in results])),
            "reconstructed": float(np.mean([r.reconstruction_similarity == 1.0
                                            for r in results])),
            "reconstruction_similarity_mean": float(np.nanmean(
                [r.reconstruction_similarity for r in results]))}


def optimize_main(argv: Sequence[str]) -> int:
    """``gen-jax molecules optimize --workdir RUN --method M [--objective P] ...``."""
    from ... import train  # noqa: PLC0415

    args = _parser().parse_args(list(argv))
    _check(args)
    obj = objective(args.objective, max_heavy_atoms=args.max_heavy_atoms or None)
    mrun = MoleculeRun(train.load_run(args.workdir))
    out = Path(args.out or Path(args.workdir) / "optimize" /
               f"{args.method}_{args.objective.replace(':', '.')}_seed{args.seed}")
    if args.method == "reinvent" and (out / "agent").exists():
        raise ValueError(f"{out / 'agent'} holds the agent of an earlier REINVENT run; pass "
                         "another --out")
    out.mkdir(parents=True, exist_ok=True)
    key = jax.random.PRNGKey(args.seed)
    t0 = time.perf_counter()
    oracle = Oracle(obj, None if args.method == "constrained" else args.budget)
    writer = _Writer(out, oracle, t0)
    record: dict[str, Any] = {
        "workdir": str(args.workdir), "model": mrun.run.model_name, "data": mrun.run.info.name,
        "step": int(mrun.run.strategy.fetch(mrun.run.state.step)), "method": args.method,
        "objective": args.objective, "max_heavy_atoms": obj.max_heavy_atoms,
        "seed": args.seed, "date": time.strftime("%Y-%m-%d")}
    if args.method == "reinvent":
        low, high = args.reward_range or REWARD_RANGES[args.objective]
        rounds, agent = reinvent(mrun, oracle, key, reward=reward_map(low, high),
                                 steps=args.max_steps, batch_size=args.batch_size,
                                 sigma=args.sigma, learning_rate=args.learning_rate,
                                 report=writer)
        record |= {"budget": args.budget, "batch_size": args.batch_size, "sigma": args.sigma,
                   "learning_rate": args.learning_rate, "reward_range": [low, high],
                   "steps": len(rounds)}
        # The fine-tuned model, a run of its own: gen-jax molecules sample --workdir OUT/agent
        train.save_run(mrun.run, out / "agent", params=agent.params, origin={
            k: record[k] for k in ("method", "objective", "max_heavy_atoms", "seed", "budget",
                                   "batch_size", "sigma", "learning_rate", "reward_range",
                                   "steps", "date")})
        record["agent"] = str(out / "agent")
    else:
        space = LatentSpace(mrun)
        starts = _starts(args, mrun, obj) if args.method == "constrained" else []
        smiles, z, scores = _labelled(args, mrun, obj, space)
        record |= {"labelled": len(smiles),
                   "labelled_best": float(np.nanmax(scores)),
                   "labelled_top3": sorted(scores[np.isfinite(scores)].tolist())[::-1][:3]}
        key_fit, key_run = jax.random.split(key)
        if args.method == "bo":
            rounds = bayesian_optimization(space, oracle, z, scores, key_run,
                                           iterations=args.iterations, batch=args.batch,
                                           penalize_invalid=not args.keep_invalid_out,
                                           report=writer)
            record |= {"budget": args.budget, "iterations": len(rounds), "batch": args.batch,
                       "proposals": sum(len(r.smiles) for r in rounds),
                       "penalize_invalid": not args.keep_invalid_out}
        else:
            predictor = fit_predictor(z, scores, key_fit, steps=args.predictor_steps)
            record |= {"predictor_valid_rmse": predictor.valid_rmse, "steps": args.steps,
                       "step_size": args.step_size}
            print(f"property predictor: held-out RMSE {predictor.valid_rmse:.3f} (deviation of "
                  f"the targets {np.nanstd(scores):.3f})", file=sys.stderr)
            if args.method == "gradient":
                order = np.argsort(-np.where(np.isnan(scores), -np.inf, scores))[:args.starts]
                gradient_ascent(space, predictor, oracle, z[order], steps=args.steps,
                                learning_rate=args.step_size, report=writer)
                record |= {"budget": args.budget, "starts": len(order)}
            else:
                results = constrained_optimization(
                    space, predictor, oracle, starts, delta=args.delta, steps=args.steps,
                    learning_rate=args.step_size, report=_progress(len(starts), t0))
                record |= {"delta": args.delta, "starts_given": len(starts),
                           "starts_read": len(results),
                           "constrained": _constrained_record(results, out)}
    writer.save()
    best = oracle.best(3)
    labelled = set(_chem.canonical(s) for s in smiles) if args.method != "reinvent" else set()
    record |= {"oracle_calls": oracle.calls, "top3": [
        {"smiles": s, "score": v, "in_labelled": s in labelled} for s, v in best],
        "seconds": round(time.perf_counter() - t0, 1)}
    if best:
        _chem.molecule_grid([s for s, _ in oracle.best(16)], out / "best.png", num=16,
                            per_row=4, provenance=of_run(
                                mrun.run, "generated", f"the best molecules for {args.objective}"
                                f" found by {args.method} from a gen_jax model"))
    write_atomic(out / "result.json", json.dumps(record, indent=2) + "\n")
    print(json.dumps(record))
    return 0
