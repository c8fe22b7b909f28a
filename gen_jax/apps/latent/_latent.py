"""Reconstructions and latent interpolations of a run's examples, as arrays."""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from ...data import ArrayDataset
from ...models import LatentCode, Reconstruction
from ...train import Run, preprocess_examples


def _variables(run: Run):
    return run.strategy.unreplicated(run.state.variables(ema=True))


def _model_batch(run: Run, ds: ArrayDataset, rows: np.ndarray, seed: int) -> dict:
    """Rows ``rows`` of ``ds`` as the model sees them (the data draws keyed by the row)."""
    batch = {"x": ds.x[rows]} | ({"label": ds.label[rows]} if ds.label is not None else {})
    key = jax.random.PRNGKey(seed)
    return jax.jit(lambda b, i: preprocess_examples(run.preprocess, b, i, key))(
        batch, jnp.asarray(rows, jnp.int32))


def _label(run: Run, batch: dict):
    return batch.get("label") if run.model.num_classes else None


def reconstruct(run: Run, ds: ArrayDataset, num: int, *,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The first ``num`` examples of ``ds`` as the model sees them and their reconstructions
    (the run's EMA parameters): two ``[num, *shape]`` arrays.

    Raises:
      ValueError: the family has no encoder, or ``num`` is out of range.
    """
    if not isinstance(run.model, Reconstruction):
        raise ValueError(f"{run.model_name} has no reconstruction to show; ae, vae and ppca "
                         "have one (a flow maps each example to its latent point and back "
                         "exactly: see gen-jax interpolate)")
    if not 1 <= num <= len(ds):
        raise ValueError(f"--num must lie in 1..{len(ds)} (the split's size), got {num}")
    batch = _model_batch(run, ds, np.arange(num), seed)
    recon = jax.jit(run.model.reconstruct)(_variables(run), batch["x"], _label(run, batch))
    return np.asarray(batch["x"]), np.asarray(recon)


def latent_path(z0: jax.Array, z1: jax.Array, t: jax.Array,
                path: Literal["linear", "slerp"] = "linear") -> jax.Array:
    """Points between ``z0`` and ``z1`` (``[P, D]`` each) at fractions ``t`` ``[S]``:
    ``[P, S, D]``. ``slerp`` follows the great circle at linearly changing norm (Shoemake 1985;
    White 2016 for Gaussian latents); nearly parallel pairs fall back to the straight line."""
    t = t[None, :, None]
    a, b = z0[:, None, :], z1[:, None, :]
    line = (1 - t) * a + t * b
    if path == "linear":
        return line
    na, nb = jnp.linalg.norm(a, axis=-1, keepdims=True), jnp.linalg.norm(b, axis=-1, keepdims=True)
    cos = jnp.sum(a * b, axis=-1, keepdims=True) / jnp.maximum(na * nb, 1e-12)
    omega = jnp.arccos(jnp.clip(cos, -1.0, 1.0))
    small = omega < 1e-4
    safe = jnp.where(small, 1.0, omega)
    arc = (jnp.sin((1 - t) * safe) * a + jnp.sin(t * safe) * b) / jnp.sin(safe)
    return jnp.where(small, line, arc)


def interpolate(run: Run, ds: ArrayDataset, pairs: int, steps: int, *,
                path: Literal["linear", "slerp"] = "linear", seed: int = 0) -> np.ndarray:
    """Decoded points on the latent path between ``pairs`` pairs of examples of ``ds`` (drawn
    with ``seed``): ``[pairs, steps, *shape]``; the first and last columns are the two
    examples' own latent points decoded. A class-conditional model decodes each row with the
    first example's label.

    Raises:
      ValueError: the family has no latent code, or the counts are out of range.
    """
    if not isinstance(run.model, LatentCode):
        raise ValueError(f"{run.model_name} has no latent code to interpolate in; families "
                         "that have one: ae, vae, ppca, realnvp, glow, maf, nsf")
    if pairs < 1 or steps < 2 or 2 * pairs > len(ds):
        raise ValueError(f"need --pairs >= 1 with 2 x pairs <= {len(ds)} examples and "
                         f"--steps >= 2, got --pairs {pairs} --steps {steps}")
    if path not in ("linear", "slerp"):
        raise ValueError(f"--path must be linear or slerp, got {path!r}")
    rows = np.random.default_rng(seed).permutation(len(ds))[:2 * pairs]
    batch = _model_batch(run, ds, rows, seed)
    model, variables = run.model, _variables(run)
    label = _label(run, batch)
    t = jnp.linspace(0.0, 1.0, steps)

    @jax.jit
    def walk(variables, x, label):
        z = model.to_latent(variables, x, label)
        points = latent_path(z[:pairs], z[pairs:], t, path).reshape(pairs * steps, -1)
        row_label = None if label is None else jnp.repeat(label[:pairs], steps)
        return model.from_latent(variables, points, row_label)

    out = np.asarray(walk(variables, batch["x"], label))
    return out.reshape(pairs, steps, *out.shape[1:])
