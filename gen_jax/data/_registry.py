"""The dataset registry: one name per dataset, loaded into host memory as an :class:`ArrayDataset`.

Real datasets (``mnist``, ``fashion_mnist``, ``binarized_mnist``, ``digits``, ``cifar10``,
``svhn``) go through their TFDS
builders in :mod:`gen_jax.data._builders`; raw files come from ``data_dir`` or
``$GEN_JAX_DATA_DIR`` (downloaded when both are unset) and prepared files go to ``tfds_dir`` or
``$GEN_JAX_TFDS_DIR`` (else TFDS's default). Toy sets are generated in code; ``textured_mnist``
and ``digits28`` (MNIST over photo textures, the 8x8 digits at MNIST's size: second domains
for translation, :mod:`gen_jax.data._domains`) are built in code from their base set;
``stacked_mnist``
(three MNIST digits as channels, 1,000 modes) is drawn in code from the MNIST split of the
same name (:mod:`gen_jax.data._stacked`). Molecule sets (``moses``, ``qm9`` and their
``_selfies`` twins) are token sequences prepared once from their raw files
(:mod:`gen_jax.data._molecules`).
"""

from __future__ import annotations

import os

import numpy as np

from ._domains import digits_at_mnist_size, read_photos, textured_mnist
from ._errors import DataError
from ._molecule_sets import MOLECULE_SETS
from ._molecules import load_molecules
from ._stacked import NUM_MODES, stacked_mnist
from ._toy import TOY_NUM_CLASSES, sample_toy
from ._types import ArrayDataset, DatasetInfo

TOY_TRAIN_SIZE = 100_000
TOY_TEST_SIZE = 10_000
_TOY_STREAMS = {"train": 0, "test": 1}
STACKED_TRAIN_SIZE = 128_000
STACKED_TEST_SIZE = 26_000

_INFOS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", (28, 28, 1), 10, 256, {"train": 60_000, "test": 10_000}),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist", (28, 28, 1), 10, 256, {"train": 60_000, "test": 10_000}
    ),
    "binarized_mnist": DatasetInfo(
        "binarized_mnist",
        (28, 28, 1),
        0,
        2,
        {"train": 50_000, "validation": 10_000, "test": 10_000},
    ),
    "digits": DatasetInfo("digits", (8, 8, 1), 10, 17, {"train": 1_500, "test": 297}),
    "cifar10": DatasetInfo("cifar10", (32, 32, 3), 10, 256, {"train": 50_000, "test": 10_000}),
    "svhn": DatasetInfo("svhn", (32, 32, 3), 10, 256, {"train": 73_257, "test": 26_032}),
    "stacked_mnist": DatasetInfo(
        "stacked_mnist", (28, 28, 3), NUM_MODES, 256,
        {"train": STACKED_TRAIN_SIZE, "test": STACKED_TEST_SIZE},
    ),
    "textured_mnist": DatasetInfo(
        "textured_mnist", (28, 28, 3), 10, 256, {"train": 60_000, "test": 10_000}
    ),
    "digits28": DatasetInfo("digits28", (28, 28, 1), 10, 256, {"train": 1_500, "test": 297}),
    **{
        name: DatasetInfo(
            name, (2,), num_classes, None, {"train": TOY_TRAIN_SIZE, "test": TOY_TEST_SIZE}
        )
        for name, num_classes in TOY_NUM_CLASSES.items()
    },
    **{
        name: DatasetInfo(name, (spec.vocabulary.sequence_length,), 0, spec.vocabulary.size,
                          dict(spec.splits), vocabulary=spec.vocabulary.tokens)
        for name, spec in MOLECULE_SETS.items()
    },
}


_DERIVED = {
    "textured_mnist": ("mnist", lambda x, split: textured_mnist(x, read_photos(), 0,
                                                                 _TOY_STREAMS[split])),
    "digits28": ("digits", lambda x, split: digits_at_mnist_size(x)),
}
"""Sets built in code from a split of another: name -> (base set, ``(x, split) -> x``)."""


def available() -> list[str]:
    """Returns the names :func:`load` accepts, sorted."""
    return sorted(_INFOS)


def info(name: str) -> DatasetInfo:
    """Returns what a model needs to know about dataset ``name``, without reading any data.

    Args:
      name: one of :func:`available`.

    Returns:
      The dataset's :class:`DatasetInfo`; ``splits`` holds the full (or, for toy sets, default)
      split sizes.

    Raises:
      DataError: unknown name.
    """
    if name not in _INFOS:
        raise DataError(f"unknown dataset {name!r}: use one of {', '.join(available())}")
    return _INFOS[name]


def load(
    name: str,
    split: str,
    *,
    data_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
    size: int | None = None,
    seed: int = 0,
) -> ArrayDataset:
    """Loads one split of a dataset into host memory.

    Args:
      name: one of :func:`available`.
      split: one of ``info(name).splits``, e.g. ``"train"``, ``"test"`` (``binarized_mnist`` also
        has ``"validation"``).
      data_dir: folder of raw files (see :mod:`gen_jax.data._raw`); default ``$GEN_JAX_DATA_DIR``;
        when both are unset the raw files are downloaded. Ignored by toy sets and ``digits``.
      tfds_dir: where prepared TFDS files are kept; default ``$GEN_JAX_TFDS_DIR``, else TFDS's
        default. The first load of a dataset prepares it there (seconds); later loads reuse it.
      size: real data: keep the first ``size`` examples (file order); toy sets and
        ``stacked_mnist``: number of points or images to draw (default: toy 100,000 train /
        10,000 test; stacked MNIST 128,000 / 26,000, PacGAN's sizes).
      seed: seed of the toy sets and of ``stacked_mnist`` (train and test use independent
        streams); ignored by real data.

    Returns:
      An :class:`ArrayDataset`: images uint8 ``[N, H, W, C]`` (a read-only array) with int32
      labels (None for ``binarized_mnist``), toy points float32 ``[N, 2]``, or molecules as
      uint8 token ids ``[N, max_length + 2]`` (no labels).

    Raises:
      DataError: unknown name or split, bad ``size``, missing or corrupt raw files.
    """
    dataset_info = info(name)
    if split not in dataset_info.splits:
        raise DataError(
            f"unknown split {split!r} of dataset {name!r}: use one of "
            f"{', '.join(dataset_info.splits)}"
        )
    if name in TOY_NUM_CLASSES or name == "stacked_mnist":
        if not isinstance(seed, int | np.integer) or seed < 0:
            raise DataError(f"seed={seed!r} for {name!r}: pass a non-negative integer")
        n = dataset_info.splits[split] if size is None else size
        if n <= 0:
            raise DataError(f"size={size} for {name!r}: pass a positive number of examples")
        if name == "stacked_mnist":
            digits = load("mnist", split, data_dir=data_dir, tfds_dir=tfds_dir)
            x, label = stacked_mnist(np.asarray(digits.x), digits.label, n, seed,
                                     _TOY_STREAMS[split])
            x.setflags(write=False)
        else:
            x, label = sample_toy(name, n, seed, _TOY_STREAMS[split])
        return ArrayDataset(dataset_info, split, x, label)
    available_size = dataset_info.splits[split]
    if name in _DERIVED:  # built in code from another set's split of the same name
        base, build = _DERIVED[name]
        source = load(base, split, data_dir=data_dir, tfds_dir=tfds_dir, size=size)
        x = build(np.asarray(source.x), split)
        x.setflags(write=False)
        return ArrayDataset(dataset_info, split, x, source.label)
    if size is not None and not 0 < size <= available_size:
        raise DataError(
            f"size={size} for {name!r} split {split!r}: pass 1..{available_size} or None for all"
        )
    if name in MOLECULE_SETS:
        x = load_molecules(MOLECULE_SETS[name], split, data_dir=data_dir, tfds_dir=tfds_dir)
        return ArrayDataset(dataset_info, split, x if size is None else x[:size], None)
    from . import _builders  # noqa: PLC0415 -- importing TFDS is only needed for real data

    builder = _builders.prepare(name, raw_dir=data_dir, tfds_dir=tfds_dir)
    x, label = _builders.read_split(builder, split, size)
    if len(x) != (available_size if size is None else size):
        raise DataError(
            f"prepared {name!r} split {split!r} in {builder.data_dir} has {len(x)} examples, "
            f"expected {available_size}: delete that folder and rebuild from the official files"
        )
    return ArrayDataset(dataset_info, split, x, label)
