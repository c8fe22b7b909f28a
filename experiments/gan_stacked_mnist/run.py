"""Trains (or resumes) DCGAN / PacDCGAN on stacked MNIST with the production engine, then
scores 26,000 samples: each channel labeled by the toolkit's MNIST classifier, modes captured
(of 1,000) and reverse KL of the mode histogram to uniform (PacGAN, Table 2).

    python experiments/gan_stacked_mnist/run.py --pac 2 --steps 4000 --out runs/gan_stacked \\
        [--g-steps 2] [--classifier-dir runs/classifiers] [--score-only]
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
            "max_mode_share": float(cov.counts.max() / num)}


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
    args = p.parse_args(argv)
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
    return 0


if __name__ == "__main__":
    # SIGTERM: the step in flight is checkpointed, one line and exit 143; the same command resumes
    sys.exit(exit_code_of(main, Path(sys.argv[0]).name))
