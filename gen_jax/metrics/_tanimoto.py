"""Tanimoto (Jaccard) similarities between sets of bit vectors, reduced blockwise in JAX.

The similarity of bit vectors ``a`` and ``b`` is ``|a & b| / (|a| + |b| - |a & b|)``; two empty
vectors count as identical (similarity 1), as MOSES counts them. The ``[N, M]`` matrix is never
materialised: rows of the first set go ``block`` at a time through a ``lax.scan`` over blocks of
the second set, with ``|a & b|`` from a matrix product of 0/1 rows (exact in float32: products of
0 and 1 accumulate integers well below 2^24 for any fingerprint length in use).
"""

from __future__ import annotations

import functools
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

Aggregate = Literal["max", "mean"]


def _bits(name: str, x: ArrayLike) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty [N, bits] array of 0/1 fingerprints, got "
                         f"shape {x.shape}")
    if x.dtype != np.uint8 and x.dtype != bool:
        if not np.all((x == 0) | (x == 1)):
            raise ValueError(f"{name} holds values other than 0 and 1; pass bit vectors "
                             "(e.g. Morgan fingerprints as 0/1 arrays)")
    return x.astype(np.uint8)


def _pad(x: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    n = x.shape[0]
    total = -(-n // block) * block
    padded = np.zeros((total, x.shape[1]), np.uint8)
    padded[:n] = x
    return padded, np.arange(total) < n


@functools.partial(jax.jit, static_argnames=("aggregate", "power"))
def _reduce(query: jax.Array, ref: jax.Array, ref_valid: jax.Array, *, aggregate: Aggregate,
            power: float) -> jax.Array:
    """``[Q]`` max or sum over valid ``ref`` rows of each query row's similarity (to ``power``).

    ``query`` [Q, D] uint8; ``ref`` [R, B, D] uint8 (R blocks of B rows); ``ref_valid`` [R, B].
    """
    q = query.astype(jnp.float32)
    q_count = jnp.sum(q, axis=1)

    def body(acc, block):
        r, valid = block
        r = r.astype(jnp.float32)
        both = jnp.dot(q, r.T, preferred_element_type=jnp.float32)  # [Q, B]
        union = q_count[:, None] + jnp.sum(r, axis=1)[None, :] - both
        sim = jnp.where(union > 0, both / jnp.where(union > 0, union, 1.0), 1.0)
        if power != 1:
            sim = sim ** power
        if aggregate == "max":
            return jnp.maximum(acc, jnp.max(jnp.where(valid[None, :], sim, -jnp.inf), axis=1)), None
        return acc + jnp.sum(jnp.where(valid[None, :], sim, 0.0), axis=1), None

    init = jnp.full(q.shape[0], -jnp.inf if aggregate == "max" else 0.0, jnp.float32)
    out, _ = jax.lax.scan(body, init, (ref, ref_valid))
    return out


def tanimoto_aggregate(query: ArrayLike, ref: ArrayLike, *, aggregate: Aggregate = "max",
                       power: float = 1.0, block: int = 1024) -> np.ndarray:
    """Per query row, the largest or the mean Tanimoto similarity to the rows of ``ref``.

    Args:
      query: ``[N, D]`` 0/1 bit vectors (uint8 or bool).
      ref: ``[M, D]`` 0/1 bit vectors.
      aggregate: ``"max"`` (nearest neighbour) or ``"mean"`` (over all of ``ref``).
      power: with ``"mean"``, the power mean ``(mean s^p)^(1/p)`` (MOSES's IntDiv2 uses 2).
      block: rows of each set per tile (a tile is ``[block, block]`` similarities).

    Returns:
      ``[N]`` float64 array.
    """
    if aggregate not in ("max", "mean"):
        raise ValueError(f"aggregate must be 'max' or 'mean', got {aggregate!r}")
    if not power > 0:
        raise ValueError(f"power must be positive, got {power}")
    query, ref = _bits("query", query), _bits("ref", ref)
    if query.shape[1] != ref.shape[1]:
        raise ValueError(f"query has {query.shape[1]} bits per row but ref has {ref.shape[1]}; "
                         "compute both fingerprints with the same settings")
    ref_padded, ref_valid = _pad(ref, block)
    ref_blocks = jnp.asarray(ref_padded.reshape(-1, block, ref.shape[1]))
    ref_valid = jnp.asarray(ref_valid.reshape(-1, block))
    query_padded, _ = _pad(query, block)
    out = np.concatenate([
        np.asarray(_reduce(jnp.asarray(query_padded[i:i + block]), ref_blocks, ref_valid,
                           aggregate=aggregate, power=float(power)))
        for i in range(0, query_padded.shape[0], block)])[:query.shape[0]].astype(np.float64)
    if aggregate == "mean":
        out = out / ref.shape[0]
        if power != 1:
            out = out ** (1.0 / power)
    return out


def nearest_tanimoto(query: ArrayLike, ref: ArrayLike, *, block: int = 1024) -> float:
    """Mean over ``query`` of the similarity to its nearest neighbour in ``ref`` (MOSES's SNN)."""
    return float(np.mean(tanimoto_aggregate(query, ref, aggregate="max", block=block)))


def internal_diversity(bits: ArrayLike, *, power: float = 1.0, block: int = 1024) -> float:
    """``1 - mean_x (mean_y s(x, y)^p)^(1/p)`` over all ordered pairs of rows, the diagonal
    included (MOSES's IntDiv with ``power=1`` and IntDiv2 with ``power=2``)."""
    return 1.0 - float(np.mean(tanimoto_aggregate(bits, bits, aggregate="mean", power=power,
                                                  block=block)))
