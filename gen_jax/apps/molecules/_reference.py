"""Reference sets for the MOSES metrics: MOSES's Test and TestSF described once and cached, or
a user's own SMILES file or reference ``.npz``."""

from __future__ import annotations

import time
from pathlib import Path

from ... import data as gdata
from ... import metrics
from . import _data, _moses

MOSES_REFERENCES = {"test": "Test", "test_scaffolds": "TestSF"}
"""MOSES's reference splits -> their names in the metric table."""


def reference_cache_path(split: str, source: Path) -> Path:
    """Where MOSES's ``split`` is cached: named by the source file's digest and RDKit's version."""
    return (metrics.cache_dir() / "molecules"
            / f"moses_{split}_{_moses.file_digest(source)}_rdkit{_moses.rdkit_version()}.npz")


def moses_reference(split: str, *, data_dir: str | Path | None = None,
                    chemnet: metrics.ChemNetFeatures | None = None, n_jobs: int = 1,
                    cache: bool = True) -> _moses.ReferenceSet:
    """MOSES's ``test`` or ``test_scaffolds`` set as a reference, described once and cached in
    ``$GEN_JAX_CACHE_DIR/molecules``. Its FCD statistics are MOSES's own
    (``moses/reference/{split}_fcd_stats.npz``) when that file is there, else computed with
    ``chemnet`` (about 15 CPU-minutes), else left out."""
    if split not in MOSES_REFERENCES:
        raise ValueError(f"MOSES's reference sets are {', '.join(MOSES_REFERENCES)}, not {split!r}")
    root = gdata.raw_molecules_dir(data_dir)
    source = root / gdata.MOLECULE_SETS["moses"].source[split]
    if not source.is_file():
        raise FileNotFoundError(f"no MOSES {split} set at {source}")
    path = reference_cache_path(split, source)
    if cache and path.is_file():
        ref = _moses.load_reference(path)
        if ref.fcd is not None or chemnet is None:
            return ref
    stats_file = root / "moses" / "reference" / f"{split}_fcd_stats.npz"
    fcd, fcd_source = None, None
    if stats_file.is_file():
        fcd, _ = metrics.load_statistics(stats_file)
        fcd_source = f"MOSES's {stats_file.name}"
    elif chemnet is not None:
        fcd_source = f"computed with gen_jax's ChemNet, encoding {chemnet.encoding}"
    ref = _moses.reference_set(
        _data.read_smiles(source), MOSES_REFERENCES[split], chemnet=chemnet if fcd is None
        else None, fcd=fcd, n_jobs=n_jobs,
        record={"source": str(source), "source_sha256_16": _moses.file_digest(source),
                "fcd_source": fcd_source if (fcd is not None or chemnet is not None) else None,
                "date": time.strftime("%Y-%m-%d")})
    if cache:
        _moses.save_reference(path, ref)
    return ref


def load_reference_source(source: str, name: str, *, data_dir: str | Path | None = None,
                          chemnet: metrics.ChemNetFeatures | None = None,
                          n_jobs: int = 1) -> _moses.ReferenceSet:
    """A reference from ``source``: ``moses:test`` / ``moses:test_scaffolds``, a reference
    ``.npz`` (:func:`_moses.save_reference`), or a SMILES file described on the spot."""
    dataset, _, split = source.partition(":")
    if dataset == "moses" and split and not Path(source).exists():
        return moses_reference(split, data_dir=data_dir, chemnet=chemnet, n_jobs=n_jobs)
    path = Path(source)
    if path.suffix == ".npz":
        if not path.is_file():
            raise FileNotFoundError(f"no reference file at {path}")
        return _moses.load_reference(path)
    return _moses.reference_set(_data.read_smiles(path), name, chemnet=chemnet, n_jobs=n_jobs,
                                record={"source": str(path),
                                        "source_sha256_16": _moses.file_digest(path)})
