"""Trains a few families for 12 steps on a fixed seed and saves every leaf of the final state, or
compares two such files leaf by leaf: the check that a refactor changed no number.

    python benchmarks/param_fingerprint.py before.npz      # on the old code
    python benchmarks/param_fingerprint.py after.npz       # on the new code
    python benchmarks/param_fingerprint.py --compare before.npz after.npz

The runs: a VAE (binarized digits, EMA), an autoencoder, three GANs (alternating with EMA;
simultaneous with PacGAN2 on grid25; n_critic 2, g_steps 2 and a gradient penalty), RealNVP on
two moons and a two-level Glow on digits (data-dependent init). Each trains through
``gen_jax.train.train`` (checkpoint at step 6) and is read back with ``load_run``: parameters,
EMA, batch statistics and optimizer state are saved. Bit equality holds on one machine and
jaxlib; other hardware or XLA versions round differently.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile

import numpy as np


def fingerprint(out: str) -> None:
    import jax

    from gen_jax import models
    from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
    from gen_jax.train import load_run, train

    f = models.FAMILIES
    cases = {
        "vae": ("vae", dict(hidden=(16,), latent_dim=4),
                DataConfig(name="digits", batch_size=32, binarize=True),
                OptimConfig(ema_decay=0.9)),
        "ae": ("ae", dict(hidden=(16,), latent_dim=4), DataConfig(name="digits", batch_size=32),
               OptimConfig()),
        "gan": ("gan", {}, DataConfig(name="ring8", batch_size=32, size=512),
                OptimConfig(ema_decay=0.99)),
        "gan_sim_pac": ("gan", dict(update="simultaneous", pac=2),
                        DataConfig(name="grid25", batch_size=32, size=512),
                        OptimConfig(ema_decay=0.99)),
        "gan_ncritic": ("gan", dict(n_critic=2, g_steps=2, gp_weight=1.0),
                        DataConfig(name="ring8", batch_size=32, size=512), OptimConfig()),
        "realnvp": ("realnvp", dict(hidden=(8,)),
                    DataConfig(name="two_moons", batch_size=32, size=512), OptimConfig()),
        "glow": ("glow", dict(num_levels=2, num_layers=2, hidden=(8,), init_examples=32),
                 DataConfig(name="digits", batch_size=32), OptimConfig()),
    }
    leaves = {}
    for name, (family, settings, data, optim) in cases.items():
        workdir = tempfile.mkdtemp(prefix=f"fingerprint_{name}_")
        cfg = ExperimentConfig(
            model=dataclasses.replace(f[family].config(), **settings), data=data, optim=optim,
            train=TrainConfig(steps=12, workdir=workdir, eval_every=1000, log_every=4,
                              checkpoint_every=6, num_samples=4, progress=False))
        train(cfg, family)
        state = load_run(workdir).state
        tree = {"params": state.params, "ema": state.ema_params, "bs": state.batch_stats,
                "opt": state.opt_state}
        for path, value in jax.tree_util.tree_leaves_with_path(tree):
            leaves[name + jax.tree_util.keystr(path)] = np.asarray(value)
        print(f"{name}: {len(jax.tree_util.tree_leaves(tree))} leaves")
    np.savez(out, **leaves)


def compare(a_path: str, b_path: str) -> int:
    a, b = np.load(a_path), np.load(b_path)
    only = sorted(set(a.files) ^ set(b.files))
    differ = [k for k in sorted(set(a.files) & set(b.files))
              if a[k].shape != b[k].shape or not np.array_equal(a[k], b[k])]
    print(f"{len(set(a.files) & set(b.files))} leaves compared, {len(differ)} differ, "
          f"{len(only)} in one file only")
    for k in differ[:20]:
        print(f"  {k}: max |a - b| = {np.max(np.abs(a[k].astype(float) - b[k].astype(float)))}")
    return 1 if differ or only else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="OUT.npz, or with --compare: A.npz B.npz")
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args(argv)
    if args.compare:
        if len(args.files) != 2:
            parser.error("--compare takes two .npz files")
        return compare(*args.files)
    fingerprint(args.files[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
