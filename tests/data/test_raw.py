"""Raw readers against independent decodes of the shared files and known facts about them."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import sklearn.datasets

from gen_jax.data import _raw

from ._fakes import write_fake_mnist
from ._known import MNIST_TEST_COUNTS, MNIST_TRAIN_COUNTS


def _gunzip(path, offset: int) -> np.ndarray:
    """Independent decode: the bytes after a fixed-size idx header."""
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_idx_matches_independent_decode(raw_dir, dataset, split):
    images_file, labels_file = _raw.IDX_FILES[split]
    images_path = _raw.raw_file(raw_dir, dataset, images_file)
    labels_path = _raw.raw_file(raw_dir, dataset, labels_file)
    images, labels = _raw.read_idx_split(images_path, labels_path)
    n = 60_000 if split == "train" else 10_000
    assert images.shape == (n, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int32
    np.testing.assert_array_equal(images.reshape(-1), _gunzip(images_path, 16))
    np.testing.assert_array_equal(labels, _gunzip(labels_path, 8))


def test_mnist_known_facts(raw_dir):
    _, train = _raw.read_idx_split(*(raw_dir / "mnist" / f for f in _raw.IDX_FILES["train"]))
    _, test = _raw.read_idx_split(*(raw_dir / "mnist" / f for f in _raw.IDX_FILES["test"]))
    assert train[0] == 5 and test[0] == 7
    assert np.bincount(train, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(test, minlength=10).tolist() == MNIST_TEST_COUNTS


def test_fashion_mnist_known_facts(raw_dir):
    folder = raw_dir / "fashion_mnist"
    _, train = _raw.read_idx_split(*(folder / f for f in _raw.IDX_FILES["train"]))
    _, test = _raw.read_idx_split(*(folder / f for f in _raw.IDX_FILES["test"]))
    assert train[0] == 9  # an ankle boot
    assert np.bincount(train, minlength=10).tolist() == [6000] * 10
    assert np.bincount(test, minlength=10).tolist() == [1000] * 10


def test_read_idx_small_file_round_trip(tmp_path):
    arrays = write_fake_mnist(tmp_path, n_train=7, n_test=3)
    images, labels = _raw.read_idx_split(
        tmp_path / "train-images-idx3-ubyte.gz", tmp_path / "train-labels-idx1-ubyte.gz"
    )
    np.testing.assert_array_equal(images[..., 0], arrays["train"][0])
    np.testing.assert_array_equal(labels, arrays["train"][1])


@pytest.mark.parametrize("split,n", [("train", 50_000), ("validation", 10_000), ("test", 10_000)])
def test_binarized_mnist_amat(raw_dir, split, n):
    x = _raw.read_amat(_raw.raw_file(raw_dir, "binarized_mnist", _raw.AMAT_FILES[split]))
    assert x.shape == (n, 28, 28, 1) and x.dtype == np.uint8
    assert set(np.unique(x).tolist()) == {0, 1}
    assert 0.10 < x.mean() < 0.16  # MNIST strokes cover about 13% of the pixels


def test_binarized_mnist_splits_are_upright_binarizations_of_their_mnist_splits(raw_dir):
    # Larochelle's binarization samples each pixel from MNIST's grey level: the test split comes
    # from MNIST's test images, the validation split from its training images.
    mnist = {split: _raw.read_idx_split(*(raw_dir / "mnist" / f for f in _raw.IDX_FILES[split]))[0]
             for split in ("train", "test")}
    grey = np.concatenate([mnist["train"], mnist["test"]]).reshape(70_000, 784) / 255.0
    for split, rows in (("test", range(60_000, 70_000)), ("validation", range(60_000))):
        x = _raw.read_amat(raw_dir / "binarized_mnist" / _raw.AMAT_FILES[split])
        # Upright: the mean binary image is the mean grey image of its MNIST split (a
        # transposed one correlates about 0.73).
        mean = x.reshape(len(x), 784).mean(0)
        assert np.corrcoef(mean, grey[rows].mean(0))[0, 1] > 0.99
        # Each of a few binary images is nearest to an image of its own MNIST split.
        sample = x[::1000].reshape(-1, 784).astype(np.float64)
        d = (sample**2).sum(1)[:, None] + (grey**2).sum(1)[None] - 2 * sample @ grey.T
        assert all(i in rows for i in d.argmin(1)), (split, d.argmin(1))


def test_amat_text_format_matches_matlab_format(raw_dir, tmp_path):
    x = _raw.read_amat(raw_dir / "binarized_mnist" / _raw.AMAT_FILES["test"])[:20]
    text = "\n".join(" ".join(str(int(v)) for v in row) for row in x.reshape(20, 784)) + "\n"
    path = tmp_path / "binarized_mnist_test.amat"
    path.write_text(text)
    np.testing.assert_array_equal(_raw.read_amat(path), x)


def test_digits_split():
    train_x, train_y = _raw.read_digits("train")
    test_x, test_y = _raw.read_digits("test")
    assert train_x.shape == (1500, 8, 8, 1) and test_x.shape == (297, 8, 8, 1)
    assert train_x.dtype == np.uint8 and train_y.dtype == np.int32
    assert train_x.max() == 16 and test_x.max() <= 16
    digits = sklearn.datasets.load_digits()
    # Together the splits hold every digit exactly once: compare sorted rows of (label, pixels).
    ours = np.concatenate(
        [
            np.concatenate([train_y[:, None], train_x.reshape(1500, 64)], 1),
            np.concatenate([test_y[:, None], test_x.reshape(297, 64)], 1),
        ]
    )
    theirs = np.concatenate([digits.target[:, None], digits.data.astype(np.int64)], 1)
    np.testing.assert_array_equal(
        ours[np.lexsort(ours.T[::-1])], theirs[np.lexsort(theirs.T[::-1])]
    )
    # Fixed: a second read gives the same split.
    np.testing.assert_array_equal(_raw.read_digits("test")[0], test_x)


def test_resolve_raw_dir(monkeypatch, tmp_path):
    assert _raw.resolve_raw_dir(None) is None
    monkeypatch.setenv("GEN_JAX_DATA_DIR", str(tmp_path / "env"))
    assert _raw.resolve_raw_dir(None) == tmp_path / "env"
    assert _raw.resolve_raw_dir(tmp_path / "arg") == tmp_path / "arg"
