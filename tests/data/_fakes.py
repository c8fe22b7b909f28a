"""Writers of small raw files, valid or deliberately broken, for tests."""

from __future__ import annotations

import gzip
import io
import pathlib
import tarfile

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


def cifar_records(images: np.ndarray, labels: np.ndarray) -> bytes:
    """CIFAR-10's binary records, written from the format's definition: a label byte, then the
    1,024 red, 1,024 green and 1,024 blue bytes of the 32x32 image, rows in order."""
    out = bytearray()
    for image, label in zip(images, labels, strict=True):
        out.append(int(label))
        for channel in range(3):
            out += image[:, :, channel].tobytes()
    return bytes(out)


def write_fake_cifar10(folder: pathlib.Path, n_per_batch: int = 3, n_test: int = 4,
                       seed: int = 0, members: dict[str, bytes] | None = None) -> dict:
    """Writes a tiny ``cifar-10-binary.tar.gz`` (five train batches and a test batch) into
    ``folder``; returns split -> (images, labels). ``members`` replaces or adds raw members."""
    rng = np.random.default_rng(seed)
    files, arrays = {}, {"train": [], "test": []}
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        n = n_test if name == "test_batch.bin" else n_per_batch
        images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        files[f"cifar-10-batches-bin/{name}"] = cifar_records(images, labels)
        arrays["test" if name == "test_batch.bin" else "train"].append((images, labels))
    files["cifar-10-batches-bin/batches.meta.txt"] = b"airplane\nautomobile\n"
    files.update(members or {})
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "cifar-10-binary.tar.gz", "w:gz") as tar:
        for name, raw in files.items():
            if raw is None:
                continue
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return {split: (np.concatenate([i for i, _ in parts]), np.concatenate([y for _, y in parts]))
            for split, parts in arrays.items()}


def write_fake_svhn(folder: pathlib.Path, n_train: int = 7, n_test: int = 5,
                    seed: int = 0) -> dict:
    """Writes tiny ``train_32x32.mat`` and ``test_32x32.mat`` files as SVHN lays them out
    (``X`` ``[32, 32, 3, N]``, ``y`` ``[N, 1]`` in 1..10); returns split -> (images, digits)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(1, 11, (n, 1)).astype(np.uint8)
        y[0] = 10  # the file's 10 is the digit 0
        scipy.io.savemat(folder / f"{split}_32x32.mat", {"X": images.transpose(1, 2, 3, 0),
                                                          "y": y})
        arrays[split] = (images, y[:, 0] % 10)
    return arrays
