"""The raw SMILES of the molecule data sets shipped beside the toolkit (MOSES, QM9), and
canonicalization with the invalid inputs counted."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from ...data import MOLECULE_SETS, raw_molecules_dir, read_smiles
from . import _chem

DATASETS = ("moses", "qm9")
"""Registered molecule sets whose raw SMILES :func:`dataset_smiles` reads."""


def dataset_smiles(name: str, split: str = "train", data_dir: str | Path | None = None,
                   ) -> list[str]:
    """Raw SMILES of a shipped set, from the files its registered data set is prepared from:
    ``moses`` (splits ``train``, ``test``, ``test_scaffolds``) or ``qm9`` (split ``all``: one
    file, split it yourself)."""
    if name not in DATASETS:
        raise ValueError(f"unknown molecule data set {name!r}; known: {', '.join(DATASETS)}")
    files = MOLECULE_SETS[name].source
    if split not in files:
        raise ValueError(f"{name} has the raw splits {', '.join(files)}, not {split!r}")
    return read_smiles(raw_molecules_dir(data_dir) / files[split])


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
