"""Mode-collapse metrics as PacGAN (Lin et al. 2018) reports them, following VEEGAN.

Gaussian-mixture toy sets (ring of 8, 5x5 grid): a sample is *high quality* when it lies within
``threshold`` (3) standard deviations of its nearest mode centre; a mode is *captured* when at least
one high-quality sample is nearest to it; the *reverse KL* is ``KL(q || uniform)`` of the histogram
``q`` of high-quality samples over the modes. Stacked MNIST: each of the three channels is
labeled by an MNIST classifier, the mode is the 3-digit number (1,000 modes), every sample counts,
and the same two numbers are reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np


class ModeCoverage(NamedTuple):
    """How a set of samples covers the modes of a known distribution.

    Attributes:
      modes: number of modes captured (with at least one high-quality sample).
      high_quality: fraction of the samples that are high quality (1.0 for classified modes).
      kl: ``KL(q || uniform)`` of the histogram of high-quality samples over the modes, in nats
        (NaN when no sample is high quality: the histogram is undefined).
      counts: ``[M]`` high-quality samples per mode.
    """

    modes: int
    high_quality: float
    kl: float
    counts: np.ndarray


def kl_to_uniform(counts: np.ndarray | jax.Array) -> float:
    """``KL(q || u)`` in nats of the normalized histogram ``q = counts / sum(counts)`` to the
    uniform distribution over ``len(counts)`` bins (``0 log 0 = 0``; NaN for an empty histogram)."""
    counts = np.asarray(counts, np.float64)
    total = counts.sum()
    if total <= 0:
        return float("nan")
    q = counts[counts > 0] / total
    return float(np.sum(q * np.log(q * len(counts))))


def nearest_mode(
    samples: jax.Array, centers: jax.Array, std: float, *, threshold: float = 3.0
) -> tuple[jax.Array, jax.Array]:
    """Each sample's nearest mode centre and whether it lies within ``threshold * std`` of it.

    Args:
      samples: ``[N, D]`` points.
      centers: ``[M, D]`` mode centres.
      std: per-coordinate standard deviation of every (isotropic) mode.
      threshold: the high-quality radius in standard deviations.

    Returns:
      ``(mode, high_quality)``: int32 ``[N]`` and bool ``[N]``.
    """
    chex.assert_rank([samples, centers], 2)
    chex.assert_equal_shape_suffix([samples, centers], 1)
    d2 = jnp.sum((samples[:, None, :] - centers[None, :, :]) ** 2, axis=-1)  # [N, M]
    mode = jnp.argmin(d2, axis=-1).astype(jnp.int32)
    dist = jnp.sqrt(jnp.min(d2, axis=-1)) / std
    return mode, dist < threshold


def mode_coverage(
    samples: jax.Array | np.ndarray, centers: jax.Array | np.ndarray, std: float, *,
    threshold: float = 3.0,
) -> ModeCoverage:
    """Modes captured, fraction of high-quality samples and reverse KL (see the module doc).

    Args:
      samples: ``[N, D]`` generated points (PacGAN: N = 2,500).
      centers: ``[M, D]`` mode centres.
      std: per-coordinate standard deviation of the modes.
      threshold: high-quality radius in standard deviations (3).
    """
    mode, good = nearest_mode(jnp.asarray(samples, jnp.float32),
                              jnp.asarray(centers, jnp.float32), std, threshold=threshold)
    mode, good = np.asarray(mode), np.asarray(good)
    counts = np.bincount(mode[good], minlength=len(centers))
    return ModeCoverage(modes=int(np.count_nonzero(counts)),
                        high_quality=float(good.mean()) if len(good) else float("nan"),
                        kl=kl_to_uniform(counts), counts=counts)


def toy_mode_coverage(samples: jax.Array | np.ndarray, name: str) -> ModeCoverage:
    """:func:`mode_coverage` on a Gaussian-mixture toy set of :mod:`gen_jax.data` (``ring8``,
    ``ring8_r1``, ``grid25``), with its centres and standard deviation."""
    from ..data import toy_modes  # noqa: PLC0415

    centers, std = toy_modes(name)
    return mode_coverage(samples, centers, std)


def label_coverage(labels: jax.Array | np.ndarray, num_modes: int) -> ModeCoverage:
    """Coverage of classified samples: every sample counts toward its label's mode.

    Args:
      labels: int ``[N]`` mode labels in ``[0, num_modes)``.
      num_modes: number of modes (1,000 for stacked MNIST).
    """
    labels = np.asarray(labels).astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_modes):
        raise ValueError(f"labels must lie in [0, {num_modes}); got {labels.min()}.."
                         f"{labels.max()}")
    counts = np.bincount(labels, minlength=num_modes)
    return ModeCoverage(modes=int(np.count_nonzero(counts)), high_quality=1.0,
                        kl=kl_to_uniform(counts), counts=counts)


def stacked_mnist_labels(
    samples: jax.Array | np.ndarray, classify: Callable[[jax.Array], jax.Array], *,
    batch_size: int = 1000,
) -> np.ndarray:
    """The 3-digit mode ``100 * d0 + 10 * d1 + d2`` of each stacked-MNIST sample.

    Args:
      samples: ``[N, 28, 28, 3]`` samples (whatever scale ``classify`` expects).
      classify: ``[n, 28, 28, 1] -> [n]`` int digit labels (an MNIST classifier).
      batch_size: images per ``classify`` call.

    Returns:
      int64 ``[N]`` modes in ``[0, 1000)``.
    """
    samples = np.asarray(samples)
    chex.assert_shape(samples, (None, 28, 28, 3))
    out = []
    for start in range(0, len(samples), batch_size):
        chunk = samples[start:start + batch_size]
        n = len(chunk)
        channels = np.moveaxis(chunk, -1, 0).reshape(3 * n, 28, 28, 1)  # channel-major
        digits = np.asarray(classify(jnp.asarray(channels))).reshape(3, n).astype(np.int64)
        out.append(100 * digits[0] + 10 * digits[1] + digits[2])
    return np.concatenate(out) if out else np.zeros((0,), np.int64)


def stacked_mnist_coverage(
    samples: jax.Array | np.ndarray, classify: Callable[[jax.Array], jax.Array], *,
    batch_size: int = 1000,
) -> ModeCoverage:
    """Modes captured (of 1,000) and reverse KL of stacked-MNIST samples (PacGAN: 26,000)."""
    return label_coverage(stacked_mnist_labels(samples, classify, batch_size=batch_size), 1000)
