"""A run's data: a built-in data set by name, or the user's own by path, read the same way.

For own data (``--data.path``) the run keeps ``WORKDIR/data.json``: what the source held when
training started (kind, example shape, classes, table columns, fingerprint) and, for
standardized data, the training split's statistics. Resuming, evaluating or scoring checks the
source against it (a source that changed shape is refused) and standardizes with the saved
statistics, so that new data gets the very transform the model was trained with.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

from .. import data as gdata
from .._files import write_atomic
from ..config import ExperimentConfig
from ..models import SemiSupervised

DATA_RECORD = "data.json"


def options_of(cfg: ExperimentConfig) -> gdata.OwnOptions:
    """The own-data settings of ``cfg.data``."""
    d = cfg.data
    return gdata.OwnOptions(image_size=d.image_size, label_column=d.label_column,
                            test_fraction=d.test_fraction, standardize=d.standardize)


def own_data(cfg: ExperimentConfig) -> gdata.OwnData | None:
    """The opened own data set of ``cfg`` (prepared on first use), or None for a named one.
    Each call looks at the source again (its files' sizes and times), so a change is seen."""
    if cfg.data.path is None:
        return None
    return gdata.open_own(cfg.data.path, options_of(cfg), tfds_dir=cfg.data.tfds_dir)


HOLDOUT = "holdout"
"""The split held out of the training split by ``data.holdout_fraction``."""
HOLDOUT_SEED = 0


def dataset_info(cfg: ExperimentConfig) -> gdata.DatasetInfo:
    """The :class:`~gen_jax.data.DatasetInfo` of the run's data; for own data checked against
    the run's record (see the module's docstring). With a class selection or a holdout, the
    split sizes are those of the selected examples (and ``holdout`` is a split)."""
    own = own_data(cfg)
    if own is None:
        info = gdata.info(cfg.data.name)
    else:
        record = read_record(cfg)
        if record is not None:
            _check_same(own, record["data"], cfg.train.workdir)
        info = own.info
    if cfg.data.target is not None:
        info = _with_target(cfg, info)
    if not _selecting(cfg.data):
        return info
    if cfg.data.labels_per_class is not None and not info.num_classes:
        raise gdata.DataError(f"data.labels_per_class keeps labelled examples, but "
                              f"{data_name(cfg)} has no labels: drop it")
    if cfg.data.classes is not None:
        if not info.num_classes:
            raise gdata.DataError(f"data.classes selects classes, but {data_name(cfg)} has no "
                                  "labels: drop it")
        if max(cfg.data.classes) >= info.num_classes:
            raise gdata.DataError(f"data.classes {list(cfg.data.classes)}: {data_name(cfg)} has "
                                  f"classes 0..{info.num_classes - 1}")
    splits = {split: len(load_split(cfg, split)) for split in info.splits}
    if cfg.data.holdout_fraction:
        splits[HOLDOUT] = len(load_split(cfg, HOLDOUT))
    return dataclasses.replace(info, splits=splits)


def own_target(cfg: ExperimentConfig) -> gdata.OwnData | None:
    """The opened own data of ``data.target`` when it names a path rather than a data set
    (read with the data's own-data settings), else None."""
    d = cfg.data
    if d.target is None or d.target in gdata.available():
        return None
    return gdata.open_own(d.target, options_of(cfg), tfds_dir=d.tfds_dir)


def _with_target(cfg: ExperimentConfig, info: gdata.DatasetInfo) -> gdata.DatasetInfo:
    """``info`` with the translation pair's second domain (``data.target``)."""
    d = cfg.data
    own = own_target(cfg)
    target = gdata.info(d.target) if own is None else own.info
    for split in (d.train_split, d.eval_split):
        if split not in target.splits:
            raise gdata.DataError(f"data.target {d.target} has no split {split!r} (it has "
                                  f"{', '.join(target.splits)}): pick a target with the data's "
                                  "splits")
    if d.paired:
        for split in info.splits:
            if split in target.splits and target.splits[split] != info.splits[split]:
                raise gdata.DataError(
                    f"data.paired: {data_name(cfg)} and {d.target} hold {info.splits[split]} "
                    f"and {target.splits[split]} examples in split {split!r}, so they cannot "
                    "correspond example for example: drop data.paired")
    return dataclasses.replace(info, target=target, paired=d.paired)


def _check_same(own: gdata.OwnData, was: dict[str, Any], workdir: str) -> None:
    now = own.describe()
    for key, what in (("kind", "kind of source"), ("shape", "example shape"),
                      ("num_levels", "number of levels"), ("class_names", "classes"),
                      ("columns", "columns")):
        if now[key] != was[key]:
            raise gdata.DataError(
                f"{own.path} now has {what} {now[key]}, but the run in {workdir} was trained on "
                f"{was[key]}: restore the data it was trained on, or train a new run with "
                "another --train.workdir")
    if now["fingerprint"] != was["fingerprint"]:
        warnings.warn(f"{own.path} changed since the run in {workdir} started (same shape); "
                      "going on with its new contents", stacklevel=3)


def read_record(cfg: ExperimentConfig) -> dict[str, Any] | None:
    """The run's ``data.json``, or None (named data, or not written yet)."""
    path = Path(cfg.train.workdir) / DATA_RECORD
    if cfg.data.path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise gdata.DataError(f"{path} is not valid JSON ({e}): delete it to record the data "
                              "again") from None


def standardizer(cfg: ExperimentConfig) -> gdata.Standardizer | None:
    """The run's standardization: from its record, else fitted on the (first ``data.size``
    examples of the) training split; None when the data are not standardized."""
    own = own_data(cfg)
    if own is None or not own.standardize:
        return None
    record = read_record(cfg)
    if record is not None and record.get("standardizer"):
        return gdata.Standardizer.from_json(record["standardizer"])
    d = cfg.data
    key = (own.prepared_dir, d.train_split, d.size, d.classes, d.holdout_fraction,
           d.labels_per_class, d.labels_seed)
    if key not in _FITTED:  # on exactly the examples trained on
        selecting = _selecting(d)
        train = gdata.load_own(own, d.train_split, size=None if selecting else d.size)
        if selecting:
            train = _select(cfg, train, d.train_split, d.size)
        _FITTED[key] = gdata.Standardizer.fit(train.x)
    return _FITTED[key]


_FITTED: dict[tuple, gdata.Standardizer] = {}
"""Standardizations fitted in this process, by prepared data and the selection trained on."""


def write_record(cfg: ExperimentConfig) -> None:
    """Writes ``WORKDIR/data.json`` for own data when it is not there (the lead process)."""
    own = own_data(cfg)
    path = Path(cfg.train.workdir) / DATA_RECORD
    if own is None or path.exists():
        return
    found = standardizer(cfg)
    record = {"data": own.describe(), "options": dataclasses.asdict(options_of(cfg)),
              "standardizer": None if found is None else found.to_json()}
    write_atomic(path, json.dumps(record, indent=1))


def load_split(cfg: ExperimentConfig, split: str, size: int | None = None, *,
               keep_unlabelled: bool = False) -> gdata.ArrayDataset:
    """Loads a split of the run's data (the first ``size`` examples), after the class selection
    the scarce labels and the holdout (``data.classes``, ``data.labels_per_class``,
    ``data.holdout_fraction``); with several processes,
    process 0 prepares the TFDS files first.

    ``keep_unlabelled`` (the training split of a semi-supervised family, with
    ``data.labels_per_class``): keep the examples outside the labelled draw too, labelled
    ``-1``; the holdout still comes from the labelled pool only and is left out. ``size`` then
    keeps every labelled example and the first unlabelled ones, ``size`` in all."""
    d = cfg.data
    if keep_unlabelled and (split != d.train_split or d.labels_per_class is None):
        raise ValueError("keep_unlabelled applies to the training split with "
                         "data.labels_per_class")
    selecting = _selecting(d)
    source = d.train_split if split == HOLDOUT else split

    def read(n):
        own = own_data(cfg)
        if own is not None:
            return gdata.load_own(own, source, size=n, standardizer=standardizer(cfg))
        return gdata.load(d.name, source, data_dir=d.data_dir, tfds_dir=d.tfds_dir, size=n,
                          seed=cfg.train.seed)

    def load():
        if d.target is not None:  # a translation pair: no selection (DataConfig refuses it)
            return _split_with_target(cfg, read(size), source)
        if not selecting:
            return read(size)
        if split == HOLDOUT and not d.holdout_fraction:
            raise gdata.DataError("no holdout split: set data.holdout_fraction")
        return _select(cfg, read(None), split, size, keep_unlabelled)

    if jax.process_count() == 1:
        return load()
    from jax.experimental import multihost_utils

    ds = load() if jax.process_index() == 0 else None
    multihost_utils.sync_global_devices(f"gen_jax prepared {data_name(cfg)}/{split}")
    return ds if ds is not None else load()


def _split_with_target(cfg: ExperimentConfig, ds: gdata.ArrayDataset, split: str
                  ) -> gdata.ArrayDataset:
    """``ds`` with the same split of the target domain (``data.target``): its first
    ``len(ds)`` examples when paired, else all of them."""
    d = cfg.data
    info = dataset_info(cfg)
    size = len(ds) if d.paired else None
    own = own_target(cfg)
    if own is not None:
        target = gdata.load_own(own, split, size=size)
    else:
        target = gdata.load(d.target, split, data_dir=d.data_dir, tfds_dir=d.tfds_dir,
                            size=size, seed=cfg.train.seed)
    if d.paired and len(target) != len(ds):
        raise gdata.DataError(f"data.paired: {data_name(cfg)} and {d.target} hold {len(ds)} "
                              f"and {len(target)} examples of split {split!r}: drop "
                              "data.paired")
    return dataclasses.replace(ds, info=info, target=target)


def _select(cfg: ExperimentConfig, ds: gdata.ArrayDataset, split: str,
            size: int | None, keep_unlabelled: bool = False) -> gdata.ArrayDataset:
    """The examples of the selected classes; of the training split, the labelled subset
    (``data.labels_per_class``) and of that the kept part or the held-out part (with
    ``keep_unlabelled``, the kept part and every example outside the labelled subset, labelled
    -1); the first ``size`` of them."""
    d = cfg.data
    rows = np.arange(len(ds))
    unlabelled = rows[:0]
    if d.classes is not None:
        if ds.label is None:
            raise gdata.DataError(f"data.classes selects classes, but {data_name(cfg)} has no "
                                  "labels: drop it")
        rows = rows[np.isin(ds.label, d.classes)]
    if d.labels_per_class is not None and split in (d.train_split, HOLDOUT):
        if ds.label is None:
            raise gdata.DataError(f"data.labels_per_class keeps labelled examples, but "
                                  f"{data_name(cfg)} has no labels: drop it")
        pool = rows[gdata.labelled_subset(ds.label[rows], d.labels_per_class, d.labels_seed)]
        if keep_unlabelled:
            unlabelled = np.setdiff1d(rows, pool)
        rows = pool
    if d.holdout_fraction and split in (d.train_split, HOLDOUT):
        held = np.zeros(len(rows), bool)
        count = int(round(d.holdout_fraction * len(rows)))
        held[np.random.default_rng(HOLDOUT_SEED).permutation(len(rows))[:count]] = True
        rows = rows[held] if split == HOLDOUT else rows[~held]
    label = None if ds.label is None else ds.label[rows]
    if keep_unlabelled:  # data.size bounds the total; every labelled example stays
        if size is not None:
            unlabelled, size = unlabelled[:max(size - len(rows), 0)], None
        rows = np.concatenate([rows, unlabelled])
        label = np.concatenate([label, np.full(len(unlabelled), -1, label.dtype)])
        order = np.argsort(rows, kind="stable")
        rows, label = rows[order], label[order]
    if size is not None:
        rows, label = rows[:size], None if label is None else label[:size]
    if not len(rows):
        raise gdata.DataError(f"no examples of {data_name(cfg)} split {split!r} are left after "
                              f"data.classes {d.classes} and data.holdout_fraction "
                              f"{d.holdout_fraction}: select other classes")
    return gdata.ArrayDataset(ds.info, split, ds.x[rows], label)


def learns_unlabelled(cfg: ExperimentConfig, model: Any) -> bool:
    """Whether ``model`` trains on the whole training split, examples outside the labelled draw
    labelled -1 (a :class:`~gen_jax.models.SemiSupervised` family with
    ``data.labels_per_class``), rather than on the labelled subset."""
    return isinstance(model, SemiSupervised) and cfg.data.labels_per_class is not None


def _selecting(d) -> bool:
    """Whether a split is a selection of the stored one (classes, scarce labels, holdout)."""
    return d.classes is not None or d.holdout_fraction > 0 or d.labels_per_class is not None


def data_name(cfg: ExperimentConfig) -> str:
    """How messages name the run's data: the data set's name, or its path."""
    return cfg.data.name if cfg.data.path is None else cfg.data.path


def read_new_data(cfg: ExperimentConfig, path: str) -> gdata.ArrayDataset:
    """New data at ``path`` in the form the run was trained on (own-data runs only)."""
    own = own_data(cfg)
    if own is None:
        raise gdata.DataError(f"new data ({path}) can be scored under a run trained on its own "
                              f"data (--data.path); this run used {cfg.data.name!r}: score one "
                              "of its splits instead")
    return gdata.read_new(own, path, label_column=cfg.data.label_column,
                          standardizer=standardizer(cfg))


def write_table(path: str | Path, columns: tuple[str, ...], rows: np.ndarray,
                standardization: gdata.Standardizer | None) -> Path:
    """Writes vectors ``[N, D]`` as a CSV with the table's column names, in the data's units
    (the standardization undone)."""
    values = rows if standardization is None else standardization.invert(rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows([f"{v:.9g}" for v in row] for row in np.asarray(values).tolist())
    return path
