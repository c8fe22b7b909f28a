"""One toy GAN run with model/optimizer overrides, scored like the sweep (diagnosis pilots).

    python experiments/gan_toy/pilot.py --data grid25 --pac 4 --steps 6000 --lr 1e-4 \\
        --model '{"batch_norm": false}' --optim '{"schedule": "constant"}' --out runs/pilot/h

``--model`` and ``--optim`` are JSON objects of ``GANConfig`` / ``OptimConfig`` fields replacing
those of ``config.make``; the run goes through the production engine and the score is
``run.score`` (2,500 samples, PacGAN's mode metrics). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import config as experiment  # noqa: E402
import run as sweep  # noqa: E402

from gen_jax.train import exit_code_of, train  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="grid25")
    p.add_argument("--pac", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--lr", type=float, default=experiment.LR)
    p.add_argument("--model", type=json.loads, default={}, help="GANConfig overrides (JSON)")
    p.add_argument("--optim", type=json.loads, default={}, help="OptimConfig overrides (JSON)")
    p.add_argument("--out", required=True, help="the run's workdir")
    args = p.parse_args(argv)
    cfg = experiment.make(args.data, args.pac, args.seed, args.steps, args.lr, workdir=args.out)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **args.model),
                              optim=dataclasses.replace(cfg.optim, **args.optim))
    t0 = time.perf_counter()
    train(cfg, "gan")
    print(json.dumps({"data": args.data, "pac": args.pac, "seed": args.seed, "model": args.model,
                      "optim": args.optim, "lr": args.lr, **sweep.score(cfg, args.seed),
                      "train_s": time.perf_counter() - t0}))
    return 0


if __name__ == "__main__":
    # SIGTERM: the step in flight is checkpointed, one line and exit 143; the same command resumes
    sys.exit(exit_code_of(main, Path(sys.argv[0]).name))
