"""Novelty and memorization: are generated samples copies of training examples?

Each training example ``t_i`` has a radius ``r_i``, the distance to its nearest *other* training
example. For a generated sample ``g`` with nearest training example ``t_{i*}``:

* authenticity (Alaa et al. 2022, "How faithful is your synthetic data?"): ``g`` is *not*
  authentic when ``d(g, t_{i*}) < r_{i*}`` (it sits closer to its nearest training example than
  any other training example does); authenticity is the fraction of authentic samples.
* memorized fraction: the fraction of ``g`` closer to *some* training example ``t_i`` than that
  example's own nearest training neighbour, ``d(g, t_i) < r_i`` (precision against 1-NN training
  balls). Every non-authentic sample is counted, so ``memorized >= 1 - authenticity``.

Both come from one blockwise pass over ``[block, N_train]`` distance tiles (plus one
training-training pass for the radii), together with each sample's nearest training example, from
which the closest pairs are listed for inspection (:func:`memorization_panel` draws them).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ._distances import (
    centre,
    check_features,
    check_same_dim,
    count,
    pick_block_size,
    ratio,
    scan_row_blocks,
    self_smallest_sq_distances,
    sq_distances,
    sq_norms,
)


class Novelty(NamedTuple):
    """Memorization statistics of generated samples against a training set.

    Attributes:
      authenticity: fraction of generated samples that are authentic (Alaa et al. 2022).
      memorized_fraction: fraction closer to some training example than that example's nearest
        training neighbour.
      nearest_distance: ``[M]`` distance of each generated sample to its nearest training example.
      nearest_index: ``[M]`` int32 index of that training example.
      pair_generated: ``[P]`` int32 indices of the generated samples closest to the training set,
        closest first.
      pair_train: ``[P]`` int32 index of each one's nearest training example.
      pair_distance: ``[P]`` their distances.
    """

    authenticity: jax.Array
    memorized_fraction: jax.Array
    nearest_distance: jax.Array
    nearest_index: jax.Array
    pair_generated: jax.Array
    pair_train: jax.Array
    pair_distance: jax.Array


def novelty(train: ArrayLike, generated: ArrayLike, *, num_pairs: int = 16,
            block_size: int | None = None) -> Novelty:
    """Authenticity, memorized fraction and the closest generated/training pairs.

    Args:
      train: ``[N, D]`` features of the training set (``N >= 2``).
      generated: ``[M, D]`` features of generated samples.
      num_pairs: number of closest pairs to list (at most ``M``).
      block_size: rows per ``[block, N]`` distance tile (default: about 16 MiB per tile).

    Returns:
      :class:`Novelty`.

    Raises:
      ValueError: not ``[N, D]`` arrays, different ``D``, fewer than 2 training rows, or a bad
        ``num_pairs``.
    """
    train = check_features("train", train, min_rows=2)
    generated = check_features("generated", generated)
    check_same_dim("train", train, "generated", generated)
    if not 0 <= num_pairs <= generated.shape[0]:
        raise ValueError(f"num_pairs={num_pairs} must be in 0..{generated.shape[0]} (the number "
                         "of generated samples)")
    out = _novelty(train, generated, num_pairs, pick_block_size(train.shape[0], block_size))
    m = generated.shape[0]
    return out._replace(authenticity=ratio(out.authenticity, m),
                        memorized_fraction=ratio(out.memorized_fraction, m))


@functools.partial(jax.jit, static_argnums=(2, 3))
def _novelty(train: jax.Array, generated: jax.Array, num_pairs: int,
             block_size: int) -> Novelty:
    train, generated = centre(train, generated)
    train_sq = sq_norms(train)
    # [N] squared distance of each training example to its nearest other one
    radius2 = self_smallest_sq_distances(train, 2)[:, 1]

    def nearest(carry, rows, _):
        d2 = sq_distances(rows, train, None, train_sq)  # [b, N]
        index = jnp.argmin(d2, axis=1).astype(jnp.int32)
        nearest_d2 = jnp.min(d2, axis=1)
        memorized = jnp.any(d2 < radius2[None, :], axis=1)
        return carry, (nearest_d2, index, memorized)

    _, (nearest_d2, index, memorized) = scan_row_blocks(nearest, generated, block_size)
    authentic = nearest_d2 >= radius2[index]
    distance = jnp.sqrt(nearest_d2)
    order = jnp.argsort(distance)[:num_pairs].astype(jnp.int32)
    return Novelty(
        authenticity=count(authentic),  # counts here, fractions after the jit
        memorized_fraction=count(memorized),
        nearest_distance=distance,
        nearest_index=index,
        pair_generated=order,
        pair_train=index[order],
        pair_distance=distance[order],
    )


def memorization_panel(generated_images: ArrayLike, train_images: ArrayLike, result: Novelty, *,
                       pad: int = 1) -> np.ndarray:
    """An image of the closest pairs: generated samples on top, their training match below.

    Args:
      generated_images: ``[M, H, W, C]`` generated images in ``[0, 1]`` (same order as the
        features given to :func:`novelty`).
      train_images: ``[N, H, W, C]`` training images in ``[0, 1]``.
      result: the :class:`Novelty` of those sets.
      pad: pixels between images.

    Returns:
      uint8 ``[H', W', C]`` grid with ``P`` columns and 2 rows (write it with
      :func:`gen_jax.train.save_png`).
    """
    from ..train import image_grid  # noqa: PLC0415 -- keeps metrics importable without train

    pairs = np.asarray(result.pair_generated)
    if pairs.size == 0:
        raise ValueError("the Novelty result lists no pairs; call novelty with num_pairs >= 1")
    gen = np.asarray(generated_images)[pairs]
    ref = np.asarray(train_images)[np.asarray(result.pair_train)]
    return image_grid(np.concatenate([gen, ref]), ncols=len(pairs), pad=pad)
