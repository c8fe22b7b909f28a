"""How much a toy GAN's mode scores depend on the batch-norm statistics its generator samples with.

    python experiments/gan_toy/sampling_stats.py runs/gan_toy_paper/grid25_pac4_seed1 \\
        [--num-samples 100000]

Scores samples of a run's latest checkpoint (the noise of ``run.py``'s score, key 10,000 +
seed) with PacGAN's mode metrics three ways: with the running statistics (``run.py``'s protocol
score), with standing statistics (recomputed for these weights over 64 batches of 400 noise
vectors, ``GAN.with_standing_stats``: ``run.py``'s ``"standing"`` score, and what PacGAN's code
samples with, as it re-estimates its statistics at the final weights first), and in training
mode (each batch of ``data.batch_size`` noise vectors normalized by its own statistics, as the
discriminator sees the generator's output). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import run as sweep  # noqa: E402

from gen_jax.metrics import toy_mode_coverage  # noqa: E402
from gen_jax.train import load_run  # noqa: E402


def samples(run, num: int) -> dict[str, jax.Array]:
    """``num`` samples of ``run``'s generator (its trained weights, as ``run.py``'s protocol
    score) for the noise ``run.py`` scores, under each of the three statistics."""
    cfg, model = run.config, run.model
    variables = run.state.variables()
    seed = cfg.train.seed
    g_vars = {"params": variables["params"]["generator"],
              "batch_stats": variables["batch_stats"]["generator"]}
    # The noise GAN.sample draws, padded to whole training batches with noise of another key
    # (whose outputs are dropped); toy data is modeled as it is (no rescaling).
    batch, dim = cfg.data.batch_size, cfg.model.latent_dim
    z = jnp.concatenate([jax.random.normal(jax.random.PRNGKey(10_000 + seed), (num, dim)),
                         jax.random.normal(jax.random.PRNGKey(1), (-num % batch, dim))])
    gen = jax.jit(lambda zb: model.generate(g_vars, zb, None, train=True)[0])
    return {"running": sweep.draw(model, model.sampling_variables(variables), seed, num),
            "standing": sweep.draw(model, sweep.standing(model, variables), seed, num),
            "train_mode": jnp.concatenate([gen(zb) for zb in z.reshape(-1, batch, dim)])[:num]}


def scores(workdir: Path, num: int) -> dict:
    """The mode metrics of :func:`samples` of the latest checkpoint in ``workdir``."""
    run = load_run(workdir)  # its checkpoints, also of a run moved since
    cfg = run.config
    if run.model_name != "gan" or cfg.data.name not in sweep.TOY_SETS:
        raise ValueError(f"{workdir} is not a GAN run on a toy set "
                         f"({', '.join(sweep.TOY_SETS)})")

    def cover(x) -> dict:
        cov = toy_mode_coverage(np.asarray(x), cfg.data.name)
        return {"modes": cov.modes, "high_quality": round(100 * cov.high_quality, 2),
                "kl": None if np.isnan(cov.kl) else round(float(cov.kl), 4)}

    return {"workdir": str(workdir), "step": int(run.strategy.fetch(run.state.step)),
            "num_samples": num,
            **{name: cover(x) for name, x in samples(run, num).items()}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workdir", type=Path, help="a toy GAN run's folder (with config.json)")
    p.add_argument("--num-samples", type=int, default=2500)
    args = p.parse_args(argv)
    try:
        result = scores(args.workdir, args.num_samples)
    except ValueError as e:  # no config or checkpoint, or not a toy GAN run
        p.error(str(e))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
