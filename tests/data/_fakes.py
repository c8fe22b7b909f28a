"""Writers of small raw files, valid or deliberately broken, for tests."""

from __future__ import annotations

import gzip
import pathlib

import numpy as np
import scipy.io


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Serializes a uint8 array in the idx format (header: magic, then big-endian dims)."""
    magic = (0x800 | array.ndim) if magic is None else magic
    header = magic.to_bytes(4, "big") + np.asarray(array.shape, ">u4").tobytes()
    return header + np.ascontiguousarray(array, np.uint8).tobytes()


def write_idx(path: pathlib.Path, array: np.ndarray, magic: int | None = None) -> pathlib.Path:
    """Writes ``array`` as a gzip idx file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(idx_bytes(array, magic)))
    return path


def write_fake_mnist(
    folder: pathlib.Path, n_train: int = 12, n_test: int = 5, seed: int = 0
) -> dict:
    """Writes the four idx files of a tiny MNIST-like set into ``folder``; returns the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
        arrays[split] = (images, labels)
    return arrays


def write_mat(path: pathlib.Path, x: np.ndarray) -> pathlib.Path:
    """Writes ``x`` as the ``X`` array of a MATLAB v5 file, like the shared binarized MNIST."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # an explicit handle: savemat would append ".mat" to the name
        scipy.io.savemat(f, {"X": x})
    return path
