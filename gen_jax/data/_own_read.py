"""Readers of a user's own data: an image folder, ``.npy``/``.npz`` arrays, ``.csv``/``.parquet``.

Each reader checks what it reads and raises :class:`DataError` with one line naming the file, what
is wrong and what to do. What it returns is plain numpy, the same for every format:

* :class:`Scan` says what the source holds without decoding it (for an image folder: the files,
  their classes and the split each belongs to; for arrays and tables: the arrays themselves,
  which are read whole).
* Images are ``uint8 [N, H, W, C]`` (``C`` 1 for grey, 3 for colour); other arrays keep their
  shape and become ``float32`` unless they are ``uint8``-valued images.

Splits: an image folder with ``train/`` and ``test/`` sub-folders, or an ``.npz`` with ``x_train``
and ``x_test`` keys, brings its own; otherwise one pool is split by :func:`split_indices`.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import pathlib
from collections.abc import Iterator

import numpy as np

from ._errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
ARRAY_SUFFIXES = (".npy", ".npz")
TABLE_SUFFIXES = (".csv", ".parquet")
SPLIT_FOLDERS = ("train", "validation", "test")
X_KEYS = ("x", "X", "images", "data", "features")
LABEL_KEYS = ("y", "label", "labels", "Y")
SPLIT_SEED = 0
"""Seed of the permutation that splits a pool into train and test (fixed: the split is part of
what the prepared data set is)."""
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


@dataclasses.dataclass(frozen=True)
class Scan:
    """What a source holds.

    Attributes:
      kind: ``"images"`` (a folder of image files), ``"arrays"``, ``"table"`` or
        ``"molecules"`` (a SMILES file).
      shape: shape of one example as stored.
      num_levels: 256 for ``uint8`` images, the vocabulary's size for molecules, None for
        continuous data.
      class_names: the label of class ``i`` is ``class_names[i]``; empty when unlabelled.
      columns: a table's feature columns (empty for other kinds).
      splits: split name -> ``(x, label)``: for arrays and tables the arrays, for images a list
        of files and their int labels (decoded by :func:`read_image`).
    """

    kind: str
    shape: tuple[int, ...]
    num_levels: int | None
    class_names: tuple[str, ...]
    columns: tuple[str, ...]
    splits: dict[str, tuple[object, np.ndarray | None]]
    vocabulary: tuple[str, ...] | None = None
    """Molecules: the tokens of the ids (:class:`~gen_jax.data.Vocabulary`)."""


def kind_of(path: pathlib.Path) -> str:
    """``"images"``, ``"arrays"``, ``"table"`` or ``"molecules"`` by what ``path`` is;
    DataError for others."""
    if path.is_dir():
        return "images"
    if not path.exists():
        raise DataError(f"--data.path {path} does not exist: pass a folder of images, an .npy/.npz "
                        "array file or a .csv/.parquet table")
    suffix = path.suffix.lower()
    if path.name.lower().endswith((".smi", ".smi.gz")):
        return "molecules"
    if suffix in ARRAY_SUFFIXES:
        return "arrays"
    if suffix in TABLE_SUFFIXES:
        if suffix == ".csv" and _names_smiles(path):
            return "molecules"
        return "table"
    raise DataError(f"--data.path {path} is a {suffix or 'suffix-less'} file: pass a folder of "
                    "images, an .npy/.npz array file, a .csv/.parquet table or a SMILES file "
                    "(.smi, or a .csv with a SMILES column)")


def _names_smiles(path: pathlib.Path) -> bool:
    """Whether a .csv's header names a SMILES column (any case): a file of molecules."""
    with open(path, newline="") as f:
        header = next(csv.reader(f), [])
    return "smiles" in [h.strip().lower() for h in header]


def source_files(path: pathlib.Path) -> list[pathlib.Path]:
    """Every file the source is read from, sorted (for an image folder: its image files)."""
    if not path.is_dir():
        return [path]
    return sorted(p for p in _walk(path) if p.suffix.lower() in IMAGE_SUFFIXES)


def _walk(root: pathlib.Path) -> Iterator[pathlib.Path]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield pathlib.Path(dirpath) / name


def split_indices(n: int, test_fraction: float | None,
                  path: os.PathLike) -> dict[str, np.ndarray]:
    """Splits ``n`` examples into train and test: the test set is a fixed random
    ``round(n * test_fraction)`` of them (at least one), each split kept in source order.
    ``test_fraction=None``: one split, ``"all"``, in source order."""
    if test_fraction is None:
        return {"all": np.arange(n)}
    n_test = max(1, round(n * test_fraction))
    if n < 2 or n_test >= n:
        raise DataError(f"{path} has {n} example(s): too few to split off a test set with "
                        f"--data.test-fraction {test_fraction}; add examples or give train/ and "
                        "test/ splits")
    test = np.zeros(n, bool)
    test[np.random.default_rng(SPLIT_SEED).permutation(n)[:n_test]] = True
    return {"train": np.flatnonzero(~test), "test": np.flatnonzero(test)}


# -- image folders -----------------------------------------------------------------------------


def scan_images(root: pathlib.Path, image_size: int | None, test_fraction: float) -> Scan:
    """Lists an image folder's files, classes and splits, and decides the stored shape.

    Layout, as torchvision's ``ImageFolder``: images in sub-folders are labelled by the
    sub-folder's name (classes sorted by name); images directly in the folder are unlabelled
    (not both). ``train/`` and ``test/`` (and ``validation/``) sub-folders give the splits.
    Headers only are read here (size and mode); :func:`read_image` decodes.
    """
    subdirs = {d.name for d in root.iterdir() if d.is_dir()}
    pools = ({s: root / s for s in SPLIT_FOLDERS if s in subdirs}
             if {"train", "test"} <= subdirs else {"": root})
    listed = {split: _list_pool(folder) for split, folder in pools.items()}
    class_names = sorted({c for files in listed.values() for _, c in files if c is not None})
    if pools.keys() != {""}:
        train_classes = {c for _, c in listed["train"]}
        for split, files in listed.items():
            if extra := sorted({c for _, c in files} - train_classes, key=str):
                raise DataError(f"{pools[split]} has class folder(s) {extra} that train/ lacks: "
                                "every class needs training images")
    index = {c: i for i, c in enumerate(class_names)}
    files = [f for pool in listed.values() for f, _ in pool]
    shape = image_shape(root, files, image_size)
    splits: dict[str, tuple[object, np.ndarray | None]] = {}
    for split, pool in listed.items():
        paths = [f for f, _ in pool]
        label = np.array([index[c] for _, c in pool], np.int32) if class_names else None
        if split:
            splits[split] = (paths, label)
            continue
        for name, rows in split_indices(len(paths), test_fraction, root).items():
            splits[name] = ([paths[i] for i in rows], None if label is None else label[rows])
    return Scan("images", shape, 256, tuple(class_names), (), splits)


def _list_pool(folder: pathlib.Path) -> list[tuple[pathlib.Path, str | None]]:
    """``(file, class or None)`` for every image of one pool, sorted."""
    files = [p for p in _walk(folder) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataError(f"no PNG, JPEG or BMP images in {folder}: put the images there (in one "
                        "sub-folder per class for labels)")
    top = [p for p in files if p.parent == folder]
    if top and len(top) != len(files):
        raise DataError(f"{folder} holds images both directly ({top[0].name}...) and in class "
                        "sub-folders: move them all into class sub-folders, or none")
    if top:
        return [(p, None) for p in files]
    return [(p, p.relative_to(folder).parts[0]) for p in files]


def image_shape(root: pathlib.Path, files: list[pathlib.Path],
                 image_size: int | None) -> tuple[int, int, int]:
    """``(H, W, C)`` of the stored images: ``image_size`` squared, else the one size all share."""
    from PIL import Image  # noqa: PLC0415 -- only image folders need it

    sizes: dict[tuple[int, int], pathlib.Path] = {}
    colour = False
    for f in files:
        try:
            with Image.open(f) as im:
                size, mode = im.size, im.mode
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            raise DataError(f"cannot read image {f} ({type(e).__name__}: {e}): remove or "
                            "replace it") from None
        sizes.setdefault(size, f)
        colour = colour or mode not in _GREY_MODES
    channels = 3 if colour else 1
    if image_size is not None:
        return (image_size, image_size, channels)
    if len(sizes) > 1:
        (a, fa), (b, fb) = list(sizes.items())[:2]
        raise DataError(f"images of different sizes in {root} ({a[0]}x{a[1]} in {fa.name}, "
                        f"{b[0]}x{b[1]} in {fb.name}): pass --data.image-size N to resize and "
                        "center-crop them to NxN")
    (width, height), = sizes
    return (height, width, channels)


def read_image(path: pathlib.Path, shape: tuple[int, int, int]) -> np.ndarray:
    """Decodes one image to ``uint8 [H, W, C]`` of ``shape``: grey or RGB as ``C`` says; when its
    size differs, the shorter side resized (bilinear, antialiased) to the target and the
    middle cropped, as torchvision's ``Resize(s)`` then ``CenterCrop(s)``."""
    from PIL import Image  # noqa: PLC0415

    height, width, channels = shape
    try:
        with Image.open(path) as im:
            im = im.convert("RGB" if channels == 3 else "L")
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"cannot read image {path} ({type(e).__name__}: {e}): remove or "
                        "replace it") from None
    if im.size != (width, height):
        scale = max(width / im.width, height / im.height)
        resized = (max(width, round(im.width * scale)), max(height, round(im.height * scale)))
        im = im.resize(resized, Image.Resampling.BILINEAR)
        left, top = (resized[0] - width) // 2, (resized[1] - height) // 2
        im = im.crop((left, top, left + width, top + height))
    return np.asarray(im, np.uint8).reshape(shape)


# -- arrays ------------------------------------------------------------------------------------


def scan_arrays(path: pathlib.Path, test_fraction: float | None) -> Scan:
    """Reads an ``.npy`` (examples only) or ``.npz`` (``x``/``X``/``images``/``data``/
    ``features`` with optional ``y``/``label``/``labels``; or ``x_train``, ``x_test`` and
    optional ``y_train``, ``y_test``) file. ``test_fraction=None``: one split ``"all"``."""
    try:
        if path.suffix.lower() == ".npy":
            arrays = {"x": np.load(path, allow_pickle=False)}
        else:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
    except ValueError as e:
        raise DataError(f"cannot read {path} without pickle ({e}): save plain numeric arrays "
                        "(np.save / np.savez)") from None
    except (OSError, EOFError) as e:  # zipfile.BadZipFile is an OSError
        raise DataError(f"cannot read {path} ({type(e).__name__}: {e}): is it an .npy/.npz "
                        "file written by numpy?") from None
    if {"x_train", "x_test"} <= arrays.keys() and test_fraction is None:  # one pool
        arrays = {"x": np.concatenate([arrays["x_train"], arrays["x_test"]])} | (
            {"y": np.concatenate([arrays["y_train"], arrays["y_test"]])}
            if {"y_train", "y_test"} <= arrays.keys() else {})
    if {"x_train", "x_test"} <= arrays.keys():
        parts = {s: (arrays[f"x_{s}"], arrays.get(f"y_{s}")) for s in ("train", "test")}
        if (parts["train"][1] is None) != (parts["test"][1] is None):
            raise DataError(f"{path} has labels for one split only: save both y_train and "
                            "y_test, or neither")
    else:
        x_key = next((k for k in X_KEYS if k in arrays), None)
        if x_key is None:
            raise DataError(f"{path} has no examples array: name it one of {', '.join(X_KEYS)} "
                            f"(or x_train and x_test); found {', '.join(sorted(arrays)) or 'none'}")
        y_key = next((k for k in LABEL_KEYS if k in arrays), None)
        parts = {"": (arrays[x_key], None if y_key is None else arrays[y_key])}
    xs = {s: _examples(x, path, f"x_{s}" if s else "examples") for s, (x, _) in parts.items()}
    shapes = {x.shape[1:] for x in xs.values()}
    if len(shapes) > 1:
        raise DataError(f"{path}: x_train and x_test hold examples of different shapes "
                        f"{sorted(shapes)}: save them with one shape")
    discrete = all(x.dtype == np.uint8 for x in xs.values())
    labels = {s: y for s, (_, y) in parts.items()}
    class_names, codes = _encode_labels(labels, {s: len(x) for s, x in xs.items()}, path)
    splits: dict[str, tuple[object, np.ndarray | None]] = {}
    for split, x in xs.items():
        if split:
            splits[split] = (x, codes[split])
            continue
        for name, rows in split_indices(len(x), test_fraction, path).items():
            splits[name] = (x[rows], None if codes[split] is None else codes[split][rows])
    shape = next(iter(xs.values())).shape[1:]
    return Scan("arrays", shape, 256 if discrete else None, class_names, (), splits)


def _examples(x: np.ndarray, path: pathlib.Path, what: str) -> np.ndarray:
    """Checks an examples array; returns it as ``uint8`` images ``[N, H, W, C]`` or ``float32``."""
    if x.ndim < 2 or len(x) == 0:
        raise DataError(f"{path}: {what} has shape {x.shape}; expected [N, ...] with N >= 1 "
                        "examples of at least one value")
    if x.dtype == bool:
        x = x.astype(np.uint8)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise DataError(f"{path}: {what} has dtype {x.dtype}; save numbers (uint8 images or "
                        "float vectors)")
    if np.issubdtype(x.dtype, np.floating):
        _check_finite(x, path, what)
        return x.astype(np.float32)
    if x.ndim >= 3 and x.min() >= 0 and x.max() <= 255:  # integer images: 8-bit
        x = x.astype(np.uint8)
        return x[..., None] if x.ndim == 3 else x
    return x.astype(np.float32)


def _check_finite(x: np.ndarray, path: os.PathLike, what: str) -> None:
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(f"{path}: {what} has NaN or Inf in {len(rows)} example(s) (first: row "
                        f"{rows[0]}): drop or fill those rows")


def _encode_labels(labels: dict[str, np.ndarray | None], sizes: dict[str, int],
                   path: os.PathLike) -> tuple[tuple[str, ...], dict[str, np.ndarray | None]]:
    """Labels as class indices: non-negative integers are their own index; anything else
    (strings, other numbers) is numbered in sorted order."""
    if all(y is None for y in labels.values()):
        return (), dict.fromkeys(labels)
    for split, y in labels.items():
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != sizes[split]:
            raise DataError(f"{path}: {len(y) if y.ndim else 0} labels of shape {y.shape} for "
                            f"{sizes[split]} examples: save one label per example")
    values = np.concatenate([np.asarray(y) for y in labels.values()])
    if values.dtype.kind in "iub" or (values.dtype.kind == "f" and np.isfinite(values).all()
                                       and (values == np.round(values)).all()):
        ints = values.astype(np.int64)
        if ints.min() >= 0:
            names = tuple(str(i) for i in range(int(ints.max()) + 1))
            return names, {s: np.asarray(y).astype(np.int32) for s, y in labels.items()}
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise DataError(f"{path}: NaN or Inf among the labels: give every example a label")
    names = tuple(sorted({str(v) for v in values.tolist()}))
    index = {n: i for i, n in enumerate(names)}
    return names, {s: np.array([index[str(v)] for v in np.asarray(y).tolist()], np.int32)
                   for s, y in labels.items()}


# -- tables ------------------------------------------------------------------------------------


def scan_table(path: pathlib.Path, label_column: str | None,
               test_fraction: float | None) -> Scan:
    """Reads a ``.csv`` (a header row, comma-separated) or ``.parquet`` table of numeric
    feature columns and an optional label column (any values, named by ``label_column``).
    ``test_fraction=None``: one split ``"all"``."""
    columns = _read_parquet(path) if path.suffix.lower() == ".parquet" else _read_csv(path)
    if label_column is not None and label_column not in columns:
        raise DataError(f"{path} has no column {label_column!r} for --data.label-column; its "
                        f"columns: {', '.join(columns)}")
    features = [c for c in columns if c != label_column]
    if not features:
        raise DataError(f"{path} has no feature column besides the label: add numeric columns")
    bad = {}
    for c in features:
        values = columns[c]
        if values.dtype.kind not in "iufb":
            bad[c] = values
    if bad:
        listed = ", ".join(f"{c!r} (e.g. {_first_non_number(v)!r})" for c, v in
                           list(bad.items())[:5])
        raise DataError(f"{path} has non-numeric column(s) {listed}: drop them, encode them as "
                        "numbers, or name the label with --data.label-column")
    x = np.stack([columns[c].astype(np.float64) for c in features], axis=1)
    bad_rows = ~np.isfinite(x).all(axis=1)
    if bad_rows.any():
        rows = np.flatnonzero(bad_rows)
        column = features[int(np.flatnonzero(~np.isfinite(x[rows[0]]))[0])]
        raise DataError(f"{path} has missing, NaN or Inf values in {len(rows)} row(s) (first: "
                        f"data row {rows[0] + 1}, column {column!r}): drop or fill them")
    label = {"": None if label_column is None else columns[label_column]}
    class_names, codes = _encode_labels(label, {"": len(x)}, path)
    splits = {name: (x[rows].astype(np.float32), None if codes[""] is None else codes[""][rows])
              for name, rows in split_indices(len(x), test_fraction, path).items()}
    return Scan("table", (x.shape[1],), None, class_names, tuple(features), splits)


def _first_non_number(values: np.ndarray) -> object:
    for v in values.tolist():
        try:
            float(v)
        except (TypeError, ValueError):
            return v
    return values[0]


def _read_csv(path: pathlib.Path) -> dict[str, np.ndarray]:
    """Columns of a CSV file: numeric when every cell parses as a number (an empty cell is
    NaN), else strings."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read {path} as CSV ({type(e).__name__}: {e}): save it as "
                        "UTF-8 comma-separated text with a header row") from None
    rows = [r for r in rows if r]
    if len(rows) < 2:
        raise DataError(f"{path} has no data rows: a header row and one row per example")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if len(set(header)) != len(header) or not all(header):
        raise DataError(f"{path}: the header row has empty or repeated column names: name "
                        "every column once")
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise DataError(f"{path}: data row {i + 1} has {len(r)} values for {len(header)} "
                            "columns: give every row one value per column")
    columns = {}
    for j, name in enumerate(header):
        cells = [r[j].strip() for r in body]
        try:
            columns[name] = np.array([float(c) if c else np.nan for c in cells], np.float64)
        except ValueError:
            columns[name] = np.array(cells, dtype=object)
    return columns


def _read_parquet(path: pathlib.Path) -> dict[str, np.ndarray]:
    """Columns of a Parquet file (nulls as NaN in numeric columns)."""
    try:
        import pyarrow.parquet as pq  # noqa: PLC0415 -- an optional dependency
    except ImportError:
        raise DataError(f"reading {path} needs pyarrow: pip install 'gen-jax[parquet]'") from None
    try:
        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 -- pyarrow raises ArrowInvalid, OSError...
        raise DataError(f"cannot read {path} as Parquet ({type(e).__name__}: {e})") from None
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        values = column.to_numpy(zero_copy_only=False)
        if values.dtype.kind == "O" and all(v is None or isinstance(v, int | float)
                                            for v in values.tolist()):
            values = np.array([np.nan if v is None else v for v in values.tolist()], np.float64)
        columns[name] = values
    return columns
