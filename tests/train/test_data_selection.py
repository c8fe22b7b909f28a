"""data.classes and data.holdout_fraction: which examples each split holds."""

import dataclasses

import numpy as np
import pytest

from gen_jax.config import DataConfig, ExperimentConfig, TrainConfig
from gen_jax.data import DataError
from gen_jax.models import VAEConfig
from gen_jax.train import HOLDOUT, dataset_info, load_split


def _cfg(**data):
    return ExperimentConfig(model=VAEConfig(), data=DataConfig(name="digits", **data),
                            train=TrainConfig(workdir="unused"))


def test_classes_and_holdout_split_the_selected_examples():
    full = load_split(_cfg(), "train")
    cfg = _cfg(classes=(3, 7), holdout_fraction=0.2)
    train, held, test = (load_split(cfg, s) for s in ("train", HOLDOUT, "test"))
    chosen = np.isin(full.label, (3, 7))
    assert set(train.label) | set(held.label) == {3, 7} and set(test.label) == {3, 7}
    assert len(train) + len(held) == chosen.sum() and len(held) == round(0.2 * chosen.sum())
    # Disjoint, and together exactly the chosen training examples.
    together = np.concatenate([train.x, held.x]).reshape(len(train) + len(held), -1)
    expected = np.asarray(full.x)[chosen].reshape(chosen.sum(), -1)
    assert sorted(map(bytes, together)) == sorted(map(bytes, expected))
    info = dataset_info(cfg)
    assert info.splits == {"train": len(train), "test": len(test), HOLDOUT: len(held)}
    again = load_split(cfg, HOLDOUT)  # a fixed draw
    np.testing.assert_array_equal(again.x, held.x)
    assert len(load_split(cfg, "train", size=5)) == 5


def test_bad_selections_are_one_line():
    with pytest.raises(DataError, match=r"digits has classes 0..9"):
        dataset_info(_cfg(classes=(12,)))
    with pytest.raises(DataError, match="no holdout split"):
        load_split(_cfg(classes=(1,)), HOLDOUT)
    with pytest.raises(DataError, match="has no labels"):
        dataset_info(dataclasses.replace(_cfg(), data=DataConfig(name="checkerboard",
                                                                 classes=(0,))))
    with pytest.raises(ValueError, match="distinct non-negative"):
        DataConfig(classes=(1, 1))
    with pytest.raises(ValueError, match=r"holdout_fraction must lie in \[0, 1\)"):
        DataConfig(holdout_fraction=1.0)


def test_a_semi_supervised_training_split_keeps_every_example_and_the_labelled_pool():
    cfg = _cfg(labels_per_class=5, labels_seed=3, holdout_fraction=0.2)
    full, pool, held = load_split(_cfg(), "train"), load_split(cfg, "train"), load_split(
        cfg, HOLDOUT)
    mixed = load_split(cfg, "train", keep_unlabelled=True)
    labelled = mixed.label >= 0
    # Every training example but the held-out ones, in the split's order ...
    assert len(mixed) == len(full) - len(held) and labelled.sum() == len(pool) == 40
    rows = lambda xs: [bytes(x) for x in np.asarray(xs).reshape(len(xs), -1)]  # noqa: E731
    assert not set(rows(mixed.x)) & set(rows(held.x))
    # ... the labelled ones exactly the labelled pool (its labels kept), the rest marked -1.
    np.testing.assert_array_equal(mixed.x[labelled], pool.x)
    np.testing.assert_array_equal(mixed.label[labelled], pool.label)
    assert set(mixed.label[~labelled]) == {-1}
    with pytest.raises(ValueError, match="keep_unlabelled applies to the training split"):
        load_split(_cfg(), "train", keep_unlabelled=True)


def test_a_size_limit_keeps_every_label_of_a_semi_supervised_split():
    mixed = load_split(_cfg(labels_per_class=5), "train", size=100, keep_unlabelled=True)
    assert len(mixed) == 100 and (mixed.label >= 0).sum() == 50
