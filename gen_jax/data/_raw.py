"""Readers of the raw dataset files: MNIST-style idx gzip, binarized-MNIST ``.amat``, 8x8 digits,
CIFAR-10's binary version and SVHN's cropped-digit MATLAB files.

Every reader validates what it reads and raises :class:`DataError` with a one-line message naming
the file, the problem and the fix. The folder holding the raw files comes from an explicit argument,
else the environment variable ``GEN_JAX_DATA_DIR``; it is laid out as::

    <raw_dir>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <raw_dir>/fashion_mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <raw_dir>/binarized_mnist/binarized_mnist_{train,valid,test}.amat
    <raw_dir>/cifar10/cifar-10-binary.tar.gz
    <raw_dir>/svhn/{train,test}_32x32.mat
"""

from __future__ import annotations

import gzip
import os
import pathlib
import tarfile
import zlib

import numpy as np

from ._errors import DataError

DATA_DIR_ENV = "GEN_JAX_DATA_DIR"

IDX_IMAGES_MAGIC = 0x803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x801  # unsigned bytes, 1 dimension

# split -> (images file, labels file); the same names for MNIST and Fashion-MNIST.
IDX_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# split -> file; the Larochelle and Murray (2011) split, 50,000 / 10,000 / 10,000.
AMAT_FILES: dict[str, str] = {
    "train": "binarized_mnist_train.amat",
    "validation": "binarized_mnist_valid.amat",
    "test": "binarized_mnist_test.amat",
}

CIFAR10_FILE = "cifar-10-binary.tar.gz"
CIFAR10_MEMBERS: dict[str, tuple[str, ...]] = {
    "train": tuple(f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("cifar-10-batches-bin/test_batch.bin",),
}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
_CIFAR_RECORD = 1 + 32 * 32 * 3  # a label byte, then the red, green and blue planes
SVHN_FILES: dict[str, str] = {"train": "train_32x32.mat", "test": "test_32x32.mat"}

DIGITS_SPLIT_SEED = 0
DIGITS_NUM_TRAIN = 1500  # of scikit-learn's 1,797 digits; the other 297 are the test split

_MAT_HEADER = b"MATLAB"


def resolve_raw_dir(raw_dir: str | os.PathLike | None) -> pathlib.Path | None:
    """Returns the raw-data folder: ``raw_dir`` if given, else ``$GEN_JAX_DATA_DIR``, else None."""
    raw_dir = raw_dir or os.environ.get(DATA_DIR_ENV) or None
    return None if raw_dir is None else pathlib.Path(raw_dir).expanduser()


def raw_file(raw_dir: str | os.PathLike, dataset: str, filename: str) -> pathlib.Path:
    """Returns ``raw_dir/dataset/filename``, raising :class:`DataError` if it does not exist.

    Args:
      raw_dir: the raw-data folder.
      dataset: sub-folder, e.g. ``"mnist"``.
      filename: the standard file name, e.g. ``"train-images-idx3-ubyte.gz"``.

    Returns:
      The path of an existing file.
    """
    path = pathlib.Path(raw_dir) / dataset / filename
    if not path.is_file():
        raise DataError(
            f"missing raw file {path}: put the standard {dataset} files in {path.parent} "
            f"(the folder comes from data_dir= or ${DATA_DIR_ENV}), or leave both unset to download"
        )
    return path


def _corrupt(path: os.PathLike, problem: str) -> DataError:
    return DataError(
        f"corrupt raw file {path}: {problem}; replace it with the official file "
        f"(or unset data_dir/${DATA_DIR_ENV} to download it)"
    )


def read_idx(path: str | os.PathLike, magic: int) -> np.ndarray:
    """Reads a gzip-compressed idx file of unsigned bytes.

    Args:
      path: the ``.gz`` file.
      magic: the expected magic number, :data:`IDX_IMAGES_MAGIC` or :data:`IDX_LABELS_MAGIC`; its
        last byte is the number of dimensions.

    Returns:
      A ``uint8`` array with the dimensions from the file's header.

    Raises:
      DataError: the file is not gzip, has another magic number, or its size disagrees with
        its header.
    """
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise _corrupt(path, f"cannot gunzip it ({e})") from e
    if len(raw) < 4:
        raise _corrupt(path, f"{len(raw)} bytes is too short for an idx header")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise _corrupt(path, f"magic number 0x{found:08x}, expected 0x{magic:08x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise _corrupt(path, f"{len(raw)} bytes is too short for an idx header of {header} bytes")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise _corrupt(path, f"{len(raw)} bytes, but its header {dims} implies {expected}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def read_idx_split(
    images_path: os.PathLike, labels_path: os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """Reads one MNIST-style split from its images and labels idx files.

    Args:
      images_path: ``*-images-idx3-ubyte.gz``.
      labels_path: ``*-labels-idx1-ubyte.gz``.

    Returns:
      ``(images, labels)``: ``uint8 [N, 28, 28, 1]`` and ``int32 [N]`` with values in ``[0, 10)``.
    """
    images = read_idx(images_path, IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, IDX_LABELS_MAGIC)
    if images.shape[1:] != (28, 28):
        raise _corrupt(images_path, f"images of shape {images.shape[1:]}, expected (28, 28)")
    if len(images) != len(labels):
        raise _corrupt(
            labels_path, f"{len(labels)} labels for {len(images)} images in {images_path}"
        )
    if labels.size and labels.max() >= 10:
        raise _corrupt(labels_path, f"label {labels.max()} outside [0, 10)")
    return images[..., None], labels.astype(np.int32)


def read_amat(path: str | os.PathLike) -> np.ndarray:
    """Reads a binarized-MNIST ``.amat`` file.

    Two encodings carry that name: the MATLAB v5 file (``scipy.io.loadmat(path)["X"]``) kept in the
    shared data folder, and the whitespace-separated text published by Larochelle, which is what the
    download URL serves. Both are accepted.

    Args:
      path: the ``.amat`` file.

    Returns:
      ``uint8 [N, 28, 28, 1]`` with values in ``{0, 1}``.

    Raises:
      DataError: the file cannot be parsed, or holds something other than ``N`` rows of 784 bits.
    """
    with open(path, "rb") as f:
        head = f.read(len(_MAT_HEADER))
    x = _read_mat(path) if head == _MAT_HEADER else _read_amat_text(path)
    if x.ndim != 2 or x.shape[1] != 784:
        raise _corrupt(path, f"array of shape {x.shape}, expected (N, 784)")
    bits = (x == 0) | (x == 1)
    if not bits.all():
        raise _corrupt(path, f"value {x[~bits][0]} in a binary image, expected only 0 and 1")
    return x.astype(np.uint8).reshape(-1, 28, 28, 1)


def _read_mat(path: os.PathLike) -> np.ndarray:
    """Reads the ``X`` array of a MATLAB file."""
    import scipy.io  # noqa: PLC0415 -- only needed for this format

    try:
        mat = scipy.io.loadmat(path)
    except Exception as e:  # scipy raises ValueError, TypeError, MatReadError... on bad input
        raise _corrupt(path, f"cannot read it as a MATLAB file ({type(e).__name__}: {e})") from e
    if "X" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise _corrupt(path, f"no array 'X' in the MATLAB file (found {keys})")
    return np.asarray(mat["X"])


def _read_amat_text(path: os.PathLike) -> np.ndarray:
    """Reads the text ``.amat`` format: one image per line, 784 space-separated 0/1 digits."""
    chars = np.fromfile(path, np.uint8)
    bits = (chars == ord("0")) | (chars == ord("1"))
    blank = np.isin(chars, np.frombuffer(b" \t\r\n", np.uint8))
    if not np.all(bits | blank):
        raise _corrupt(path, "characters other than 0, 1 and whitespace in a text .amat file")
    values = chars[bits] - ord("0")
    rows = int(np.count_nonzero(chars == ord("\n"))) + int(
        chars.size > 0 and chars[-1] != ord("\n")
    )
    if rows == 0 or values.size != rows * 784:
        raise _corrupt(path, f"{values.size} values on {rows} lines, expected 784 per line")
    return values.reshape(rows, 784)


def read_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Reads scikit-learn's bundled 8x8 digits (UCI optical digits test set) as a fixed split.

    The 1,797 images are permuted with ``np.random.default_rng(DIGITS_SPLIT_SEED)``; the first
    1,500 are ``"train"`` and the remaining 297 are ``"test"``. Nothing is downloaded.

    Args:
      split: ``"train"`` or ``"test"``.

    Returns:
      ``(images, labels)``: ``uint8 [N, 8, 8, 1]`` with values in ``[0, 16]`` and ``int32 [N]``.
    """
    import sklearn.datasets  # noqa: PLC0415 -- slow to import; only needed here

    digits = sklearn.datasets.load_digits()
    images = np.asarray(digits.images)
    if images.min() < 0 or images.max() > 16 or np.any(images != np.round(images)):
        raise DataError("scikit-learn's digits are not integers in [0, 16]: reinstall scikit-learn")
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(images))
    index = {"train": order[:DIGITS_NUM_TRAIN], "test": order[DIGITS_NUM_TRAIN:]}[split]
    return images[index].astype(np.uint8)[..., None], np.asarray(digits.target)[index].astype(
        np.int32
    )


def read_cifar10(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Reads CIFAR-10's binary version (``cifar-10-binary.tar.gz``) without extracting it.

    Each ``.bin`` member holds records of one label byte and 3,072 image bytes (the 32x32 red,
    green and blue planes, rows in order); the five ``data_batch`` files are ``"train"`` in file
    order, ``test_batch`` is ``"test"``.

    Returns:
      split -> ``(images, labels)``: ``uint8 [N, 32, 32, 3]`` and ``int32 [N]`` in ``[0, 10)``.

    Raises:
      DataError: not a gzip tar, a member missing, or a member whose size or labels are wrong.
    """
    out = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for split, members in CIFAR10_MEMBERS.items():
                parts = []
                for name in members:
                    try:
                        member = tar.extractfile(name)
                    except KeyError:
                        member = None
                    if member is None:
                        raise _corrupt(path, f"no member {name}")
                    raw = member.read()
                    if not raw or len(raw) % _CIFAR_RECORD:
                        raise _corrupt(path, f"{name} has {len(raw)} bytes, not a whole number "
                                       f"of {_CIFAR_RECORD}-byte records")
                    parts.append(np.frombuffer(raw, np.uint8).reshape(-1, _CIFAR_RECORD))
                records = np.concatenate(parts)
                labels = records[:, 0].astype(np.int32)
                if labels.max() >= 10:
                    raise _corrupt(path, f"label {labels.max()} outside [0, 10) in the {split} "
                                   "records")
                images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
                out[split] = (np.ascontiguousarray(images), labels)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise _corrupt(path, f"cannot read it as a gzip tar ({type(e).__name__}: {e})") from e
    return out


def read_svhn(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Reads one split of SVHN's cropped digits (``train_32x32.mat`` or ``test_32x32.mat``).

    The file holds ``X`` ``uint8 [32, 32, 3, N]`` and ``y`` ``[N, 1]`` with labels 1..10, where
    10 stands for the digit 0 (as TFDS's ``svhn_cropped`` reads them, ``y % 10``).

    Returns:
      ``(images, labels)``: ``uint8 [N, 32, 32, 3]`` and ``int32 [N]`` in ``[0, 10)``.
    """
    import scipy.io  # noqa: PLC0415 -- only needed for this format

    try:
        mat = scipy.io.loadmat(path)
    except Exception as e:  # scipy raises ValueError, TypeError, MatReadError... on bad input
        raise _corrupt(path, f"cannot read it as a MATLAB file ({type(e).__name__}: {e})") from e
    if "X" not in mat or "y" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise _corrupt(path, f"expected arrays 'X' and 'y', found {keys}")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"]).reshape(-1)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.dtype != np.uint8:
        raise _corrupt(path, f"X of shape {x.shape} and dtype {x.dtype}, expected uint8 "
                       "[32, 32, 3, N]")
    if len(y) != x.shape[3]:
        raise _corrupt(path, f"{len(y)} labels for {x.shape[3]} images")
    if y.size and (y.min() < 1 or y.max() > 10):
        raise _corrupt(path, f"label {y.min() if y.min() < 1 else y.max()} outside 1..10")
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2)), (y % 10).astype(np.int32)
