"""Each bad input raises DataError with a one-line message that names the problem and the fix."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

from gen_jax import data
from gen_jax.data import _raw

from ._fakes import idx_bytes, write_fake_mnist, write_idx, write_mat


def _raises(match: str, fn, *args, **kwargs) -> str:
    with pytest.raises(data.DataError, match=match) as error:
        fn(*args, **kwargs)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_data_error_is_a_value_error():
    assert issubclass(data.DataError, ValueError)


def test_missing_raw_file_names_path_and_env_var(tmp_path):
    expected = tmp_path / "raw" / "mnist" / "train-images-idx3-ubyte.gz"
    message = _raises(
        "missing raw file",
        data.load,
        "mnist",
        "train",
        data_dir=tmp_path / "raw",
        tfds_dir=tmp_path / "tfds",
    )
    assert str(expected) in message and "GEN_JAX_DATA_DIR" in message


def test_missing_raw_file_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GEN_JAX_DATA_DIR", str(tmp_path / "env_raw"))
    message = _raises(
        "missing raw file", data.load, "binarized_mnist", "test", tfds_dir=tmp_path / "tfds"
    )
    assert str(tmp_path / "env_raw" / "binarized_mnist") in message


@pytest.mark.parametrize(
    "content,match",
    [
        (b"this is not gzip at all", "cannot gunzip"),
        (gzip.compress(idx_bytes(np.zeros(5, np.uint8)))[:-9], "cannot gunzip"),  # cut stream
        (gzip.compress(b"\x00\x00"), "too short for an idx header"),
        (gzip.compress(idx_bytes(np.zeros((2, 28, 28), np.uint8), magic=0x801)), "magic number"),
        (gzip.compress(idx_bytes(np.zeros((2, 28, 28), np.uint8))[:-1]), "implies"),
        (gzip.compress(idx_bytes(np.zeros((2, 28, 28), np.uint8)) + b"\x00"), "implies"),
    ],
    ids=["not-gzip", "truncated-gzip", "short-header", "bad-magic", "truncated", "trailing"],
)
def test_corrupt_idx_images(tmp_path, content, match):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(content)
    message = _raises(match, _raw.read_idx, path, _raw.IDX_IMAGES_MAGIC)
    assert message.startswith(f"corrupt raw file {path}: ")
    assert "replace it with the official file" in message


def test_idx_images_and_labels_disagree(tmp_path):
    images = write_idx(tmp_path / "i.gz", np.zeros((3, 28, 28), np.uint8))
    labels = write_idx(tmp_path / "l.gz", np.zeros(4, np.uint8))
    _raises("4 labels for 3 images", _raw.read_idx_split, images, labels)
    small = write_idx(tmp_path / "s.gz", np.zeros((4, 14, 14), np.uint8))
    _raises(
        re.escape("images of shape (14, 14), expected (28, 28)"), _raw.read_idx_split, small, labels
    )
    bad_labels = write_idx(tmp_path / "b.gz", np.full(4, 10, np.uint8))
    _raises(
        re.escape("label 10 outside [0, 10)"),
        _raw.read_idx_split,
        write_idx(tmp_path / "j.gz", np.zeros((4, 28, 28), np.uint8)),
        bad_labels,
    )


def test_corrupt_file_surfaces_through_load(tmp_path):
    write_fake_mnist(tmp_path / "raw" / "mnist")
    labels = tmp_path / "raw" / "mnist" / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:20])
    message = _raises(
        "corrupt raw file",
        data.load,
        "mnist",
        "test",
        data_dir=tmp_path / "raw",
        tfds_dir=tmp_path / "tfds",
    )
    assert str(labels) in message


def test_wrong_example_count_in_prepared_data(tmp_path):
    write_fake_mnist(tmp_path / "raw" / "mnist", n_train=12, n_test=5)
    _raises(
        "has 5 examples, expected 10000",
        data.load,
        "mnist",
        "test",
        data_dir=tmp_path / "raw",
        tfds_dir=tmp_path / "tfds",
    )


@pytest.mark.parametrize(
    "x,match",
    [
        (np.zeros((3, 100), np.uint8), re.escape("array of shape (3, 100), expected (N, 784)")),
        (np.full((3, 784), 2, np.uint8), "value 2 in a binary image"),
        (np.full((3, 784), 0.6), "value 0.6 in a binary image"),  # was read as 0
        (np.full((3, 784), -1, np.int16), "value -1 in a binary image"),  # was read as 255
    ],
)
def test_bad_amat_array(tmp_path, x, match):
    _raises(match, _raw.read_amat, write_mat(tmp_path / "binarized_mnist_test.amat", x))


def test_amat_without_x(tmp_path):
    path = tmp_path / "binarized_mnist_test.amat"
    import scipy.io

    with open(path, "wb") as f:
        scipy.io.savemat(f, {"Y": np.zeros((2, 784))})
    _raises(re.escape("no array 'X' in the MATLAB file (found ['Y'])"), _raw.read_amat, path)


def test_truncated_mat_file(tmp_path, raw_dir):
    path = tmp_path / "binarized_mnist_valid.amat"
    path.write_bytes(
        (raw_dir / "binarized_mnist" / "binarized_mnist_valid.amat").read_bytes()[:5000]
    )
    _raises("cannot read it as a MATLAB file", _raw.read_amat, path)


@pytest.mark.parametrize(
    "text,match",
    [("0 1 2\n", "characters other than"), ("0 1 0 1\n", "4 values on 1 lines"), ("", "0 values")],
)
def test_bad_amat_text(tmp_path, text, match):
    path = tmp_path / "binarized_mnist_test.amat"
    path.write_text(text)
    _raises(match, _raw.read_amat, path)


def test_unknown_dataset_lists_available():
    message = _raises("unknown dataset 'cifar100'", data.load, "cifar100", "train")
    assert all(name in message for name in data.available())
    _raises("unknown dataset 'mnits'", data.info, "mnits")


def test_unknown_split_lists_splits():
    message = _raises(
        "unknown split 'valid' of dataset 'binarized_mnist'", data.load, "binarized_mnist", "valid"
    )
    assert "train, validation, test" in message
    _raises("unknown split 'validation' of dataset 'ring8'", data.load, "ring8", "validation")


def test_bad_size_or_seed():
    _raises("size=0", data.load, "ring8", "train", size=0)
    _raises("seed=-3 for 'grid25'", data.load, "grid25", "train", seed=-3)
    _raises(re.escape("pass 1..10000"), data.load, "mnist", "test", size=10_001)
