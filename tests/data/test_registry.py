"""The registry: names, infos, and what load returns for each kind of dataset."""

from __future__ import annotations

import numpy as np
import pytest

from gen_jax import data

from ._known import MNIST_TEST_COUNTS, MNIST_TRAIN_COUNTS

TOY = ["checkerboard", "grid25", "ring8", "ring8_r1", "two_moons"]


def test_available():
    assert data.available() == sorted(["mnist", "fashion_mnist", "binarized_mnist", "digits",
                                       "cifar10", "svhn", "stacked_mnist", "textured_mnist",
                                       "digits28", *TOY, "moses",
                                       "moses_selfies", "qm9", "qm9_selfies"])


@pytest.mark.parametrize(
    "name,shape,num_classes,num_levels,splits",
    [
        ("mnist", (28, 28, 1), 10, 256, {"train": 60_000, "test": 10_000}),
        ("fashion_mnist", (28, 28, 1), 10, 256, {"train": 60_000, "test": 10_000}),
        (
            "binarized_mnist",
            (28, 28, 1),
            0,
            2,
            {"train": 50_000, "validation": 10_000, "test": 10_000},
        ),
        ("digits", (8, 8, 1), 10, 17, {"train": 1_500, "test": 297}),
        ("cifar10", (32, 32, 3), 10, 256, {"train": 50_000, "test": 10_000}),
        ("svhn", (32, 32, 3), 10, 256, {"train": 73_257, "test": 26_032}),
        ("stacked_mnist", (28, 28, 3), 1000, 256, {"train": 128_000, "test": 26_000}),
        ("textured_mnist", (28, 28, 3), 10, 256, {"train": 60_000, "test": 10_000}),
        ("digits28", (28, 28, 1), 10, 256, {"train": 1_500, "test": 297}),
        ("ring8", (2,), 8, None, {"train": 100_000, "test": 10_000}),
        ("ring8_r1", (2,), 8, None, {"train": 100_000, "test": 10_000}),
        ("grid25", (2,), 25, None, {"train": 100_000, "test": 10_000}),
        ("two_moons", (2,), 2, None, {"train": 100_000, "test": 10_000}),
        ("checkerboard", (2,), 0, None, {"train": 100_000, "test": 10_000}),
    ],
)
def test_info(name, shape, num_classes, num_levels, splits):
    info = data.info(name)
    assert (info.name, info.shape, info.num_classes, info.num_levels, info.splits) == (
        name,
        shape,
        num_classes,
        num_levels,
        splits,
    )
    assert info.is_discrete == (num_levels is not None)


@pytest.mark.parametrize("split", ["train", "test"])
def test_load_mnist(load_real, split):
    ds = load_real("mnist", split)
    assert ds.info == data.info("mnist") and ds.split == split
    assert ds.x.shape == (data.info("mnist").splits[split], 28, 28, 1)
    assert ds.x.dtype == np.uint8 and ds.label.dtype == np.int32
    assert ds.x.max() == 255 and ds.x.min() == 0
    counts = MNIST_TRAIN_COUNTS if split == "train" else MNIST_TEST_COUNTS
    assert np.bincount(ds.label, minlength=10).tolist() == counts


def test_load_size_is_a_prefix(load_real):
    full = load_real("mnist", "test")
    head = load_real("mnist", "test", size=100)
    assert len(head) == 100
    np.testing.assert_array_equal(head.x, full.x[:100])
    np.testing.assert_array_equal(head.label, full.label[:100])


def test_load_stacked_mnist_channels_are_mnist_digits_of_the_same_split(raw_dir, tfds_dir):
    def load(name, split, size=None, seed=0):
        return data.load(name, split, data_dir=raw_dir, tfds_dir=tfds_dir, size=size, seed=seed)

    digits = load("mnist", "test")
    ds = load("stacked_mnist", "test", size=500, seed=3)
    assert ds.x.shape == (500, 28, 28, 3) and ds.x.dtype == np.uint8
    assert ds.label.dtype == np.int32 and 0 <= ds.label.min() and ds.label.max() < 1000
    lookup = {digits.x[i].tobytes(): int(digits.label[i]) for i in range(len(digits))}
    for img, mode in zip(ds.x[:20], ds.label[:20], strict=True):
        d = [lookup[np.ascontiguousarray(img[..., c : c + 1]).tobytes()] for c in range(3)]
        assert mode == 100 * d[0] + 10 * d[1] + d[2]
    again = load("stacked_mnist", "test", size=500, seed=3)
    np.testing.assert_array_equal(again.x, ds.x)
    train = load("stacked_mnist", "train", size=500, seed=3)
    assert not np.array_equal(train.label, ds.label)
    train_digits = load("mnist", "train")  # and the training set's from MNIST's training split
    known = {train_digits.x[i].tobytes() for i in range(len(train_digits))}
    for img in train.x[:20]:
        assert all(np.ascontiguousarray(img[..., c : c + 1]).tobytes() in known for c in range(3))


def test_load_binarized_mnist(load_real):
    ds = load_real("binarized_mnist", "validation")
    assert ds.x.shape == (10_000, 28, 28, 1) and ds.x.dtype == np.uint8
    assert set(np.unique(ds.x).tolist()) == {0, 1}
    assert ds.label is None and ds.info.num_classes == 0 and ds.info.num_levels == 2


def test_load_digits(tmp_path):
    train = data.load("digits", "train", tfds_dir=tmp_path)  # no raw folder needed
    test = data.load("digits", "test", tfds_dir=tmp_path)
    assert train.x.shape == (1500, 8, 8, 1) and test.x.shape == (297, 8, 8, 1)
    assert train.x.dtype == np.uint8 and train.x.max() == 16
    assert train.label.dtype == np.int32
    assert np.bincount(np.concatenate([train.label, test.label])).sum() == 1797


@pytest.mark.parametrize("name", TOY)
def test_load_toy(name):
    ds = data.load(name, "train", size=1000, seed=3)
    assert ds.x.shape == (1000, 2) and ds.x.dtype == np.float32
    assert len(data.load(name, "test").x) == 10_000
    again = data.load(name, "train", size=1000, seed=3)
    np.testing.assert_array_equal(ds.x, again.x)
    assert not np.allclose(ds.x, data.load(name, "train", size=1000, seed=4).x)
    test = data.load(name, "test", size=1000, seed=3)
    assert not np.allclose(ds.x, test.x)  # another stream, not a copy of train
    if data.info(name).num_classes:
        assert ds.label.dtype == np.int32
        assert set(np.unique(ds.label).tolist()) == set(range(data.info(name).num_classes))
    else:
        assert ds.label is None


def test_load_toy_default_size():
    assert len(data.load("ring8", "train")) == 100_000
