"""The raw SMILES of the molecule data sets shipped beside the toolkit (MOSES, QM9), and
canonicalization with the invalid inputs counted."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from ...data import read_smiles
from . import _chem

MOSES_SPLITS = ("train", "test", "test_scaffolds")
DATASETS = ("moses", "qm9")


def _data_root(data_dir: str | Path | None) -> Path:
    root = data_dir if data_dir is not None else os.environ.get("GEN_JAX_DATA_DIR")
    if root is None:
        raise FileNotFoundError("the molecule data sets are read from a local folder: set "
                                "$GEN_JAX_DATA_DIR or pass data_dir (moses/*.csv.gz from the "
                                "molsets wheel, qm9/qm9.csv)")
    return Path(root)


def dataset_smiles(name: str, split: str = "train", data_dir: str | Path | None = None,
                   ) -> list[str]:
    """SMILES of a shipped data set: ``moses`` (splits ``train``, ``test``,
    ``test_scaffolds``) or ``qm9`` (split ``all``: one file, split it yourself)."""
    root = _data_root(data_dir)
    if name == "moses":
        if split not in MOSES_SPLITS:
            raise ValueError(f"moses has the splits {', '.join(MOSES_SPLITS)}, not {split!r}")
        return read_smiles(root / "moses" / f"{split}.csv.gz")
    if name == "qm9":
        if split != "all":
            raise ValueError(f"qm9 is one set (split 'all'), not {split!r}")
        return read_smiles(root / "qm9" / "qm9.csv")
    raise ValueError(f"unknown molecule data set {name!r}; known: {', '.join(DATASETS)}")


@dataclasses.dataclass(frozen=True)
class Cleaned:
    """Canonical SMILES of the valid input molecules and how many were skipped."""

    smiles: list[str]
    invalid: int
    first_invalid: str | None


def canonicalize(smiles: Sequence[str], *, n_jobs: int = 1) -> Cleaned:
    """RDKit's canonical SMILES of every valid input; invalid ones are skipped and counted."""
    canon = _chem.map_molecules(_chem.canonical, smiles, n_jobs=n_jobs)
    bad = [s for s, c in zip(smiles, canon, strict=True) if c is None]
    return Cleaned([c for c in canon if c is not None], len(bad), bad[0] if bad else None)
