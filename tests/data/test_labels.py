"""Scarce labels: the class-balanced labelled subset."""

import numpy as np
import pytest

from gen_jax import data
from gen_jax.config import DataConfig


def test_labelled_subsets_are_balanced_seeded_and_checked():
    labels = np.repeat(np.arange(3), [4, 6, 5])
    a, b = data.labelled_subset(labels, 4, 0), data.labelled_subset(labels, 4, 0)
    np.testing.assert_array_equal(a, b)
    assert np.bincount(labels[a]).tolist() == [4, 4, 4] and np.all(np.diff(a) > 0)
    assert not np.array_equal(data.labelled_subset(labels, 2, 1), data.labelled_subset(
        labels, 2, 2))
    with pytest.raises(data.DataError, match="class 0 has 4 examples, fewer than"):
        data.labelled_subset(labels, 5)
    with pytest.raises(ValueError, match="data.labels_per_class must be a positive"):
        DataConfig(labels_per_class=0)
