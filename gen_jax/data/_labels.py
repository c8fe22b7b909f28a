"""Scarce labels: a class-balanced labelled subset of a training split, drawn by seed.

Semi-supervised learning and augmentation experiments train with ``N`` labels per class (MNIST
with 100 labels: 10 per class). :func:`labelled_subset` draws them the same way wherever they
are needed (a run's training data, the augmentation evaluation's real arm), so the same
``(labels, N, seed)`` always names the same examples.
"""

from __future__ import annotations

import numpy as np

from ._errors import DataError


def labelled_subset(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` examples of every class present, drawn without replacement.

    Each class's examples are permuted by ``numpy.random.default_rng(seed)`` (one generator for
    the whole draw, classes in increasing order) and the first ``per_class`` kept; the result is
    sorted, so the subset keeps the split's order.

    Args:
      labels: ``[N]`` integer labels of the split.
      per_class: examples to keep per class (>= 1).
      seed: seed of the draw.

    Returns:
      int64 ``[per_class * num_classes_present]`` sorted row indices.

    Raises:
      DataError: ``per_class`` < 1, or a class with fewer than ``per_class`` examples.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DataError(f"labels of shape {labels.shape}: pass one label per example")
    if per_class < 1:
        raise DataError(f"data.labels_per_class {per_class}: keep at least one label per class")
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        if len(rows) < per_class:
            raise DataError(f"class {c} has {len(rows)} examples, fewer than "
                            f"data.labels_per_class {per_class}: ask for at most {len(rows)}")
        keep.append(rng.permutation(rows)[:per_class])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)
