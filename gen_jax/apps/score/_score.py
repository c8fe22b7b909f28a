"""Scoring a split: the run's EMA variables, each example's data draws from its own key."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ...data import ArrayDataset
from ...models import LikelihoodBound, Reconstruction, SamplingVariables
from ...train import (
    Run,
    data_name,
    load_run,
    load_split,
    preprocess_examples,
    read_new_data,
    target_rows,
)


def score_split(run: Run, split: str | None = None, *, num_examples: int | None = None,
                batch_size: int = 256, seed: int = 0) -> np.ndarray:
    """Anomaly scores ``[N]`` (float64) of the first ``num_examples`` of ``split``.

    Args:
      run: a trained run (:func:`gen_jax.train.load_run`).
      split: a split of the run's data set (default: its eval split).
      num_examples: score only the first N examples (default: all).
      batch_size: examples per jitted call (the last call is padded, its padding dropped).
      seed: decides the data draws (dequantization, binarization): example ``i`` draws with
        ``fold_in(PRNGKey(seed), i)``, whatever the batch size; the model's own noise (a
        VAE's posterior sample) is drawn per batch from the same key.

    Raises:
      ValueError: an unknown split, or a batch size below 1.
    """
    cfg = run.config
    split = split or cfg.data.eval_split
    if split not in run.info.splits:
        raise ValueError(f"{data_name(cfg)} has no split {split!r}; choose one of "
                         f"{', '.join(run.info.splits)}")
    return score_examples(run, load_split(cfg, split), num_examples=num_examples,
                          batch_size=batch_size, seed=seed)


SCORES = ("model", "recon_error", "nll_is")
"""What :func:`score_examples` can compute: the family's own anomaly score, the reconstruction
error (families that reconstruct), the importance-sampled NLL (families with a likelihood
bound: the VAE)."""


def score_examples(run: Run, ds: ArrayDataset, *, num_examples: int | None = None,
                   batch_size: int = 256, seed: int = 0, kind: str = "model",
                   importance_samples: int = 100) -> np.ndarray:
    """Anomaly scores ``[N]`` (float64) of the first ``num_examples`` of ``ds``: a split, or new
    data read in the run's form (:func:`gen_jax.train.read_new_data`). Arguments as
    :func:`score_split`'s, and

    Args:
      kind: ``"model"`` (the family's ``anomaly_score``), ``"recon_error"`` (the mean squared
        error of the reconstruction, per dimension, in model space) or ``"nll_is"`` (the
        importance-sampled negative log-likelihood with ``importance_samples`` samples, nats).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    model = run.model
    if kind == "recon_error" and not isinstance(model, Reconstruction):
        raise ValueError(f"{run.model_name} does not reconstruct; the recon_error score is for "
                         "ae, vae and ppca")
    if kind == "nll_is" and not isinstance(model, LikelihoodBound):
        raise ValueError(f"{run.model_name} has no likelihood bound to importance-sample; the "
                         "nll_is score is for the vae")
    if kind not in SCORES:
        raise ValueError(f"unknown score {kind!r}; use one of {', '.join(SCORES)}")
    if run.info.paired and ds.target is None:
        raise ValueError(f"this {run.model_name} run scores each example against its "
                         f"counterpart in {run.info.target.name}, which new data lack; score one "
                         "of the run's splits")
    if model.num_classes and ds.label is None:
        raise ValueError(f"this {run.model_name} is class-conditional and scores each example "
                         "under its label, but these data have none")
    n = len(ds) if num_examples is None else min(num_examples, len(ds))
    variables = run.strategy.unreplicated(run.state.variables(ema=True))
    if isinstance(model, SamplingVariables):
        variables = jax.jit(model.sampling_variables)(variables)
    data_key, noise_key = jax.random.split(jax.random.PRNGKey(seed))

    @jax.jit
    def score(variables, batch, index, key):
        inputs = preprocess_examples(run.preprocess, batch, index, data_key)
        x, label = inputs["x"], inputs.get("label") if model.num_classes else None
        if kind == "recon_error":
            error = (model.reconstruct(variables, x, label) - x) ** 2
            return jnp.mean(error.reshape(x.shape[0], -1), axis=-1)
        if kind == "nll_is":
            weights = model.log_importance_weights(variables, x, key, importance_samples, label)
            return -(jax.scipy.special.logsumexp(weights, axis=0) - jnp.log(importance_samples))
        return model.anomaly_score(variables, inputs, key)

    out = []
    for i, start in enumerate(range(0, n, batch_size)):
        rows = np.arange(start, start + batch_size) % n  # the last batch padded with the first
        batch = {"x": ds.x[rows]} | ({"label": ds.label[rows]} if ds.label is not None else {})
        if ds.target is not None:  # a translation pair: each example's counterpart, or another
            batch |= target_rows(ds, rows)
        scores = score(variables, batch, jnp.asarray(rows, jnp.int32),
                       jax.random.fold_in(noise_key, i))
        out.append(np.asarray(scores, np.float64)[:min(batch_size, n - start)])
    return np.concatenate(out)


def main(argv: Sequence[str]) -> int:
    """``gen-jax score --workdir RUN [--split S | --data PATH] [--out FILE.npy]
    [--num-examples N]``."""
    parser = argparse.ArgumentParser(
        prog="gen-jax score", description="Per-example anomaly scores (higher: more unusual) of "
        "a split, or of new data, under a trained run, saved as .npy; prints a summary.")
    parser.add_argument("--workdir", required=True, help="the run's output folder")
    parser.add_argument("--split", default=None, help="data split (default: the run's eval split)")
    parser.add_argument("--data", default=None, metavar="PATH",
                        help="score new data instead of a split: a file or folder of the kind the "
                        "run was trained on with --data.path, read the same way (same columns, "
                        "image size and standardization)")
    parser.add_argument("--out", default=None,
                        help="the .npy file (default: WORKDIR/scores_SPLIT.npy)")
    parser.add_argument("--num-examples", type=int, default=None, help="first N examples (all)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0, help="decides the data draws")
    args = parser.parse_args(list(argv))
    if args.out is not None and not args.out.endswith(".npy"):
        raise ValueError(f"--out must name a .npy file, got {args.out}")
    if args.num_examples is not None and args.num_examples < 1:
        raise ValueError(f"--num-examples must be positive, got {args.num_examples}")
    if args.data is not None and args.split is not None:
        raise ValueError("--data scores new data and --split a split of the run's data: pass one")
    run = load_run(args.workdir)
    if args.data is not None:
        split, what = None, {"data": args.data}
        scores = score_examples(run, read_new_data(run.config, args.data),
                                num_examples=args.num_examples, batch_size=args.batch_size,
                                seed=args.seed)
        default_out = Path(args.workdir) / f"scores_{Path(args.data).stem}.npy"
    else:
        split = args.split or run.config.data.eval_split
        what = {"split": split}
        scores = score_split(run, split, num_examples=args.num_examples,
                             batch_size=args.batch_size, seed=args.seed)
        default_out = Path(args.workdir) / f"scores_{split}.npy"
    out = Path(args.out) if args.out else default_out
    np.save(out, scores)
    q = np.quantile(scores, [0.05, 0.5, 0.95])
    print(json.dumps({"path": str(out), **what, "num_examples": int(len(scores)),
                      "mean": float(np.mean(scores)), "q05": float(q[0]),
                      "median": float(q[1]), "q95": float(q[2])}, indent=2))
    return 0
