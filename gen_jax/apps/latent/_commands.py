"""The command lines of ``gen-jax reconstruct`` and ``gen-jax interpolate``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...provenance import Provenance, of_run
from ...train import image_grid, load_run, load_split, own_data, save_png, standardizer, write_table
from ._latent import interpolate, reconstruct


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", required=True, help="the run's output folder")
    parser.add_argument("--split", default=None, help="data split (default: the run's eval "
                        "split)")
    parser.add_argument("--seed", type=int, default=0, help="decides the data draws (and the "
                        "pairs of interpolate)")
    parser.add_argument("--out", default=None, help="where the picture (images) or the arrays "
                        "(other data: .npy, and .csv for a table) go")


def _write(run, values: np.ndarray, out: Path, ncols: int,
           provenance: Provenance) -> dict[str, str]:
    """Images: one PNG grid of ``ncols`` columns carrying ``provenance``. Vectors: the ``.npy``
    of ``values`` and, for a run on a table, a ``.csv`` of its rows (flattened) in the table's
    columns and units."""
    images = values.reshape(-1, *values.shape[-3:]) if values.ndim >= 4 else None
    if images is not None and len(run.info.shape) == 3:
        grid = image_grid(np.clip(images, 0.0, 1.0), ncols=ncols)
        factor = max(1, 28 // images.shape[1])
        return {"png": str(save_png(grid.repeat(factor, 0).repeat(factor, 1),
                                    out.with_suffix(".png"), provenance))}
    npy = out.with_suffix(".npy")
    npy.parent.mkdir(parents=True, exist_ok=True)
    np.save(npy, values)
    written = {"npy": str(npy)}
    own = own_data(run.config)
    if own is not None and own.kind == "table":
        rows = values.reshape(-1, values.shape[-1])
        written["csv"] = str(write_table(out.with_suffix(".csv"), own.columns, rows,
                                         standardizer(run.config)))
    return written


def reconstruct_main(argv: Sequence[str]) -> int:
    """``gen-jax reconstruct --workdir RUN [--num 32] [--split S] [--out FILE]``."""
    parser = argparse.ArgumentParser(
        prog="gen-jax reconstruct", description="Examples of a split beside their "
        "reconstructions under a trained run (autoencoder, VAE, PPCA); prints what it wrote.")
    _common(parser)
    parser.add_argument("--num", type=int, default=32, help="first N examples of the split")
    args = parser.parse_args(list(argv))
    run = load_run(args.workdir)
    split = args.split or run.config.data.eval_split
    if split not in run.info.splits:
        raise ValueError(f"no split {split!r}; choose one of {', '.join(run.info.splits)}")
    x, recon = reconstruct(run, load_split(run.config, split), args.num, seed=args.seed)
    out = Path(args.out or Path(args.workdir) / f"reconstructions_{split}")
    pairs = np.stack([x, recon], axis=1)  # [N, 2, *shape]: each example, then its reconstruction
    written = _write(run, pairs, out, ncols=2 * min(8, args.num), provenance=of_run(
        run, "mixed", f"{split} examples, each followed by its reconstruction by a gen_jax "
        "model"))
    mse = float(np.mean((recon.astype(np.float64) - x) ** 2))
    print(json.dumps({**written, "split": split, "num": args.num,
                      "layout": "each example followed by its reconstruction",
                      "mean_squared_error": mse}))
    return 0


def interpolate_main(argv: Sequence[str]) -> int:
    """``gen-jax interpolate --workdir RUN [--pairs 8] [--steps 10] [--path linear|slerp]``."""
    parser = argparse.ArgumentParser(
        prog="gen-jax interpolate", description="Walks the latent space between random pairs "
        "of examples of a split under a trained run (autoencoder, VAE, PPCA, flows): one row "
        "per pair, from the first example's latent point to the second's; prints what it "
        "wrote.")
    _common(parser)
    parser.add_argument("--pairs", type=int, default=8, help="pairs of examples (rows)")
    parser.add_argument("--steps", type=int, default=10, help="points per path, ends included")
    parser.add_argument("--path", default="linear", choices=("linear", "slerp"),
                        help="straight line, or great circle (suits Gaussian latents)")
    args = parser.parse_args(list(argv))
    run = load_run(args.workdir)
    split = args.split or run.config.data.eval_split
    if split not in run.info.splits:
        raise ValueError(f"no split {split!r}; choose one of {', '.join(run.info.splits)}")
    values = interpolate(run, load_split(run.config, split), args.pairs, args.steps,
                         path=args.path, seed=args.seed)
    out = Path(args.out or Path(args.workdir) / f"interpolation_{split}_seed{args.seed}")
    written = _write(run, values, out, ncols=args.steps, provenance=of_run(
        run, "generated", f"{args.path} interpolations between {split} examples in the latent "
        "space of a gen_jax model (the ends decoded from the examples' latent points)"))
    print(json.dumps({**written, "split": split, "pairs": args.pairs, "steps": args.steps,
                      "path": args.path, "layout": "one row per pair, first example to second"}))
    return 0
