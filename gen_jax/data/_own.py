"""A user's own data set, chosen by its path: prepared once as ArrayRecord, then read like the
built-in sets.

:func:`open_own` describes the source (an image folder, an ``.npy``/``.npz`` file, a ``.csv``/
``.parquet`` table; see :mod:`gen_jax.data._own_read` for the layouts) and prepares it through
the TFDS builder ``gen_jax_own_data`` under ``$GEN_JAX_TFDS_DIR`` (or ``tfds_dir=``), one folder
per *fingerprint*: the source's files with their sizes and modification times, and the settings
that shape the prepared data. Changing the files or those settings prepares a new folder; the
old ones are left for the user to delete. :func:`load_own` reads a split into host memory.

Continuous data may be *standardized* (each feature to zero mean and unit variance on the
training split): :class:`Standardizer` holds those statistics so that a run can keep them and
apply the same transform to new data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import re
from typing import Any

import numpy as np

from . import _own_read
from ._errors import DataError
from ._molecules import encode_new_molecules, scan_molecules
from ._types import ArrayDataset, DatasetInfo

FORMAT_VERSION = 1
"""Bumped when the prepared form of the same source changes (part of the fingerprint)."""
SOURCE_RECORD = "source.json"


@dataclasses.dataclass(frozen=True)
class OwnOptions:
    """The settings that shape a prepared own data set.

    Attributes:
      image_size: image folders: resize the shorter side and center-crop to this square size
        (None: keep the size all images share).
      label_column: tables: the column holding labels (None: unlabelled).
      test_fraction: a source without its own splits: the fraction held out as ``test``.
      standardize: continuous data: scale each feature to zero mean and unit variance on the
        training split. None: tables yes, other sources no.
    """

    image_size: int | None = None
    label_column: str | None = None
    test_fraction: float = 0.1
    standardize: bool | None = None

    def __post_init__(self):
        if self.image_size is not None and self.image_size < 1:
            raise DataError(f"--data.image-size {self.image_size}: pass a positive size")
        if not 0.0 < self.test_fraction < 1.0:
            raise DataError(f"--data.test-fraction {self.test_fraction}: pass a fraction "
                            "strictly between 0 and 1")


@dataclasses.dataclass(frozen=True)
class OwnData:
    """A prepared own data set.

    Attributes:
      path: the source, as given.
      kind: ``"images"``, ``"arrays"`` or ``"table"``.
      info: its :class:`DatasetInfo`; ``info.name`` is ``"path:<file or folder name>"``.
      class_names: class ``i`` is ``class_names[i]`` (empty: unlabelled).
      columns: a table's feature columns, in order.
      fingerprint: hex digest of the source files and the shaping settings.
      standardize: whether :func:`load_own` callers should standardize it.
      prepared_dir: the folder of its ArrayRecord files.
      options: the settings it was opened with.
    """

    path: str
    kind: str
    info: DatasetInfo
    class_names: tuple[str, ...]
    columns: tuple[str, ...]
    fingerprint: str
    standardize: bool
    prepared_dir: str
    options: OwnOptions = OwnOptions()

    def describe(self) -> dict[str, Any]:
        """What a run records of its data to check it again later (JSON-ready)."""
        return {"path": self.path, "kind": self.kind, "shape": list(self.info.shape),
                "num_levels": self.info.num_levels, "class_names": list(self.class_names),
                "columns": list(self.columns), "fingerprint": self.fingerprint}


@dataclasses.dataclass(frozen=True)
class Standardizer:
    """Per-feature mean and standard deviation of a training split (a zero deviation is 1)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        x = np.asarray(x, np.float64)
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std > 0, std, 1.0))

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` as float32; ``x``'s trailing shape must match."""
        if tuple(x.shape[1:]) != tuple(self.mean.shape):
            raise DataError(f"data of shape {tuple(x.shape[1:])} cannot take the standardization "
                            f"fitted on shape {tuple(self.mean.shape)}")
        return ((np.asarray(x, np.float64) - self.mean) / self.std).astype(np.float32)

    def invert(self, x: np.ndarray) -> np.ndarray:
        """Standardized values back in the data's units (float64)."""
        return np.asarray(x, np.float64) * self.std + self.mean

    def to_json(self) -> dict[str, Any]:
        return {"shape": list(self.mean.shape), "mean": self.mean.ravel().tolist(),
                "std": self.std.ravel().tolist()}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Standardizer:
        shape = tuple(record["shape"])
        return cls(np.asarray(record["mean"], np.float64).reshape(shape),
                   np.asarray(record["std"], np.float64).reshape(shape))


def fingerprint(path: pathlib.Path, kind: str, options: OwnOptions) -> str:
    """Digest of the source's files (relative name, size, modification time) and of the
    settings that change the prepared data for this kind of source."""
    files = []
    for f in _own_read.source_files(path):
        stat = f.stat()
        files.append([f.relative_to(path).as_posix() if f != path else f.name,
                      stat.st_size, stat.st_mtime_ns])
    shaping = {"test_fraction": options.test_fraction}
    if kind == "images":
        shaping["image_size"] = options.image_size
    if kind == "table":
        shaping["label_column"] = options.label_column
    record = {"version": FORMAT_VERSION, "kind": kind, "shaping": shaping, "files": files}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def open_own(path: str | os.PathLike, options: OwnOptions = OwnOptions(), *,
             tfds_dir: str | os.PathLike | None = None) -> OwnData:
    """Describes the data set at ``path``, preparing it first when this version is not yet.

    Args:
      path: a folder of images, an ``.npy``/``.npz`` file, a ``.csv``/``.parquet`` table, or a
        SMILES file (``.smi``, or a ``.csv`` whose header names a SMILES column).
      options: how to shape it (:class:`OwnOptions`).
      tfds_dir: where prepared data lives (default ``$GEN_JAX_TFDS_DIR``, else TFDS's default).

    Raises:
      DataError: a missing or unsupported path, or bad contents (one line naming the file).
    """
    from . import _builders  # noqa: PLC0415 -- TFDS is imported only for real data

    source = pathlib.Path(path).expanduser()
    kind = _own_read.kind_of(source)
    if kind != "images" and options.image_size is not None:
        raise DataError(f"--data.image-size resizes image folders; {source} is not one: drop it")
    if kind != "table" and options.label_column is not None:
        raise DataError(f"--data.label-column names a table's column; {source} is not a table "
                        "(arrays take labels from a y/label key): drop it")
    digest = fingerprint(source, kind, options)
    stem = re.sub(r"[^A-Za-z0-9]+", "_", source.stem).strip("_")[:40] or "data"
    config = f"{stem}_{digest[:16]}"
    record = _builders.own_prepared_record(config, tfds_dir)
    if record is None:
        scan = _scan(source, kind, options)
        record = {"kind": kind, "shape": list(scan.shape), "num_levels": scan.num_levels,
                  "class_names": list(scan.class_names), "columns": list(scan.columns),
                  "splits": {s: len(x) for s, (x, _) in scan.splits.items()},
                  "source": str(source)}
        if scan.vocabulary is not None:
            record["vocabulary"] = list(scan.vocabulary)
        _builders.prepare_own(config, scan, record, tfds_dir, what=str(source))
    vocabulary = tuple(record["vocabulary"]) if "vocabulary" in record else None
    info = DatasetInfo(f"path:{source.name}", tuple(record["shape"]), len(record["class_names"]),
                       record["num_levels"], dict(record["splits"]), vocabulary=vocabulary)
    standardize = options.standardize
    if standardize is None:
        standardize = kind == "table"
    if standardize and info.is_discrete:
        raise DataError(f"--data.standardize scales continuous data; {source} holds discrete "
                        "values (8-bit images or tokens): drop it")
    return OwnData(os.fspath(path), kind, info, tuple(record["class_names"]),
                   tuple(record["columns"]), digest, bool(standardize),
                   _builders.own_prepared_dir(config, tfds_dir), options)


def _scan(source: pathlib.Path, kind: str, options: OwnOptions) -> _own_read.Scan:
    if kind == "images":
        return _own_read.scan_images(source, options.image_size, options.test_fraction)
    if kind == "arrays":
        return _own_read.scan_arrays(source, options.test_fraction)
    if kind == "molecules":
        return scan_molecules(source, options.test_fraction)
    return _own_read.scan_table(source, options.label_column, options.test_fraction)


def load_own(own: OwnData, split: str, *, size: int | None = None,
             standardizer: Standardizer | None = None) -> ArrayDataset:
    """Reads one split of a prepared own data set into host memory.

    Args:
      own: from :func:`open_own`.
      split: one of ``own.info.splits``.
      size: keep the first ``size`` examples (default: all).
      standardizer: applied to the examples when given (continuous data).

    Returns:
      An :class:`ArrayDataset`: ``uint8`` images or ``float32`` examples, ``int32`` labels
      (None when unlabelled).
    """
    from . import _builders  # noqa: PLC0415

    if split not in own.info.splits:
        raise DataError(f"unknown split {split!r} of {own.path}: use one of "
                        f"{', '.join(own.info.splits)}")
    available = own.info.splits[split]
    if size is not None and not 0 < size <= available:
        raise DataError(f"size={size} for {own.path} split {split!r}: pass 1..{available} or "
                        "None for all")
    x, label = _builders.read_prepared(own.prepared_dir, split, size)
    if standardizer is not None:
        x = standardizer.apply(x)
    return ArrayDataset(own.info, split, x, label)


def read_new(own: OwnData, path: str | os.PathLike, *, label_column: str | None = None,
             standardizer: Standardizer | None = None) -> ArrayDataset:
    """Reads a new source whole (no split, nothing prepared) in the form of ``own``: the same
    kind, example shape, table columns and standardization, as scoring new data needs. Images
    are resized and cropped as ``own``'s were (``image_size``); without it they must have its
    size. Labels, when the new source has them (a table's label column, an array file's ``y``),
    are mapped to the run's classes; image folders give none.

    Raises:
      DataError: the new source differs in kind, shape or columns (one line naming it).
    """
    source = pathlib.Path(path).expanduser()
    kind = _own_read.kind_of(source)
    if kind != own.kind:
        raise DataError(f"{source} is {_KIND_WORDS[kind]}, but the run was trained on "
                        f"{_KIND_WORDS[own.kind]} ({own.path}): pass data of the same kind")
    if kind == "images":
        files = _own_read.source_files(source)
        if not files:
            raise DataError(f"no PNG, JPEG or BMP images in {source}: put the images there")
        size = own.options.image_size
        shape = _own_read.image_shape(source, files, size)
        if size is None and shape[:2] != own.info.shape[:2]:
            raise DataError(f"{source} holds {shape[1]}x{shape[0]} images, but the run was "
                            f"trained on {own.info.shape[1]}x{own.info.shape[0]} ones ({own.path}) "
                            "without --data.image-size: resize them first")
        x = np.stack([_own_read.read_image(f, own.info.shape) for f in files])
        label = None
    elif kind == "molecules":
        x, label = encode_new_molecules(source, own.info.vocabulary, own.info.shape[0]), None
    else:
        scan = (_own_read.scan_arrays(source, None) if kind == "arrays" else
                _own_read.scan_table(source, label_column, None))
        if kind == "table" and scan.columns != own.columns:
            missing = [c for c in own.columns if c not in scan.columns]
            extra = [c for c in scan.columns if c not in own.columns]
            raise DataError(f"{source} has other columns than the table the run was trained on "
                            f"({own.path}; missing: {missing or 'none'}, extra: {extra or 'none'}"
                            ", the order counts too): pass the same columns, with the label "
                            "column named")
        if tuple(scan.shape) != tuple(own.info.shape):
            raise DataError(f"{source} holds examples of shape {tuple(scan.shape)}, but the run "
                            f"was trained on shape {tuple(own.info.shape)} ({own.path}): pass "
                            "data of the trained shape")
        x, codes = scan.splits["all"]
        label = _map_labels(codes, scan.class_names, own, source)
        if (x.dtype == np.uint8) != own.info.is_discrete:
            raise DataError(f"{source} holds {x.dtype} examples, but the run was trained on "
                            f"{'uint8' if own.info.is_discrete else 'float'} ones ({own.path}): "
                            "save them with the trained dtype")
    if standardizer is not None:
        x = standardizer.apply(x)
    return ArrayDataset(own.info, "new", x, label)


def _map_labels(codes: np.ndarray | None, names: tuple[str, ...], own: OwnData,
                source: pathlib.Path) -> np.ndarray | None:
    """A new source's labels as the run's class indices (None: it has none, or the run had
    none)."""
    if codes is None or not own.class_names:
        return None
    index = {name: i for i, name in enumerate(own.class_names)}
    unknown = sorted({names[c] for c in np.unique(codes)} - index.keys())
    if unknown:
        raise DataError(f"{source} has labels {unknown[:5]} that the run's data "
                        f"({own.path}) never had (its classes: {list(own.class_names)[:10]}): "
                        "pass data labelled with the run's classes")
    lookup = np.array([index[name] for name in names], np.int32)
    return lookup[codes]


_KIND_WORDS = {"images": "a folder of images", "arrays": "an array file", "table": "a table",
               "molecules": "a SMILES file"}
