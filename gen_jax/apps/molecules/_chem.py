"""RDKit's side of the molecules app: parsing, canonical SMILES, fingerprints, fragments,
scaffolds, properties and structural filters, one molecule at a time, as MOSES computes them.

No JAX here: these functions run in worker processes (:func:`map_molecules`) and in the parent.
RDKit is imported on first use; without it, one line says to install ``gen-jax[molecules]``.
"""

from __future__ import annotations

import concurrent.futures
import csv
import functools
import math
import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..._extras import require
from ...data import canonical_smiles
from ...provenance import Provenance, save_png

T = TypeVar("T")

MORGAN_RADIUS = 2
MORGAN_BITS = 1024
"""MOSES's fingerprint for SNN and IntDiv: Morgan, radius 2, 1024 bits."""
FILTER_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})
"""The atoms a molecule may have to pass MOSES's filters."""
FILTER_FILES = ("mcf.csv", "wehi_pains.csv")
"""MOSES's SMARTS lists (MIT, Insilico Medicine), in ``$GEN_JAX_DATA_DIR/moses/filters``."""
FILTERS_HOW_TO_GET = (
    "they ship in the molsets wheel (`pip download --no-deps molsets==0.3.1`, files "
    "moses/metrics/mcf.csv and wehi_pains.csv); put both in one folder and pass it")


@functools.cache
def rdkit() -> Any:
    """``rdkit.Chem`` with RDKit's logging off, or one line saying which extra installs it."""
    chem = require("rdkit.Chem", "molecules", "the molecules app")
    require("rdkit.RDLogger", "molecules", "the molecules app").DisableLog("rdApp.*")
    return chem


def mol(smiles: str) -> Any | None:
    """The RDKit molecule of ``smiles``, or None when RDKit cannot parse or sanitize it."""
    if not smiles:
        return None
    return rdkit().MolFromSmiles(smiles)


def canonical(smiles: str) -> str | None:
    """RDKit's canonical SMILES of ``smiles`` (stereo kept), or None when it is invalid."""
    return canonical_smiles(smiles)


@functools.cache
def _morgan(radius: int, bits: int) -> Any:
    gen = require("rdkit.Chem.rdFingerprintGenerator", "molecules", "fingerprints")
    return gen.GetMorganGenerator(radius=radius, fpSize=bits)


def morgan_bits(m: Any, radius: int, bits: int) -> np.ndarray:
    """``[bits]`` bool Morgan fingerprint of a molecule with the given radius."""
    return _morgan(radius, bits).GetFingerprintAsNumPy(m).astype(bool)


def fingerprint(m: Any) -> np.ndarray:
    """``[1024]`` uint8 Morgan bits (radius 2) of a molecule, MOSES's SNN/IntDiv fingerprint."""
    return _morgan(MORGAN_RADIUS, MORGAN_BITS).GetFingerprintAsNumPy(m).astype(np.uint8)


def fragments(m: Any) -> list[str]:
    """The SMILES of the molecule's BRICS fragments (MOSES's Frag metric)."""
    return rdkit().MolToSmiles(rdkit().FragmentOnBRICSBonds(m)).split(".")


def scaffold(m: Any, min_rings: int = 2) -> str | None:
    """The Bemis-Murcko scaffold's SMILES, or None below ``min_rings`` rings (MOSES's Scaf)."""
    murcko = require("rdkit.Chem.Scaffolds.MurckoScaffold", "molecules", "scaffolds")
    try:
        core = murcko.GetScaffoldForMol(m)
    except (ValueError, RuntimeError):
        return None
    smiles = rdkit().MolToSmiles(core)
    if not smiles or core.GetRingInfo().NumRings() < min_rings:
        return None
    return smiles


def _logp(m: Any) -> float:
    return float(require("rdkit.Chem.Crippen", "molecules", "logP").MolLogP(m))


def _qed(m: Any) -> float:
    return float(require("rdkit.Chem.QED", "molecules", "QED").qed(m))


def _sa(m: Any) -> float:
    scorer = require("rdkit.Contrib.SA_Score.sascorer", "molecules", "the SA score")
    return float(scorer.calculateScore(m))


def _weight(m: Any) -> float:
    return float(require("rdkit.Chem.Descriptors", "molecules", "weight").MolWt(m))


def _largest_ring(m: Any) -> int:
    return max((len(r) for r in m.GetRingInfo().AtomRings()), default=0)


# Means and standard deviations of logP, -SA and the ring penalty over ZINC-250k (JT-VAE's
# normalization of penalized logP, Jin et al. 2018, `bo/run_bo.py`).
_ZINC_LOGP = (2.4570953396190123, 1.434324401111988)
_ZINC_NEG_SA = (-3.0525811293166134, 0.8335207024513095)
_ZINC_CYCLE = (-0.0485696876403053, 0.2860212110245455)


def _penalized_logp(m: Any) -> float:
    """JT-VAE's penalized logP: logP - SA - (largest ring beyond 6 atoms), each term
    standardized with its ZINC-250k mean and deviation."""
    cycle = -max(_largest_ring(m) - 6, 0)
    return ((_logp(m) - _ZINC_LOGP[0]) / _ZINC_LOGP[1]
            + (-_sa(m) - _ZINC_NEG_SA[0]) / _ZINC_NEG_SA[1]
            + (cycle - _ZINC_CYCLE[0]) / _ZINC_CYCLE[1])


PROPERTIES: dict[str, Callable[[Any], float]] = {
    "logp": _logp, "sa": _sa, "qed": _qed, "weight": _weight, "penalized_logp": _penalized_logp,
}
"""Property name -> function of an RDKit molecule: Crippen logP, the synthetic accessibility
score (Ertl & Schuffenhauer 2009, RDKit Contrib), QED, molecular weight, JT-VAE's penalized logP."""


def property_fn(name: str) -> Callable[[Any], float]:
    """The function of a property named in :data:`PROPERTIES`, or a one-line ValueError."""
    if name not in PROPERTIES:
        raise ValueError(f"unknown molecular property {name!r}; known: {', '.join(PROPERTIES)}")
    return PROPERTIES[name]


def filters_dir(path: str | Path | None = None, data_dir: str | Path | None = None) -> Path:
    """The folder holding MOSES's ``mcf.csv`` and ``wehi_pains.csv``: ``path``, else
    ``DATA_DIR/moses/filters``; a one-line FileNotFoundError saying how to get them."""
    if path is None and data_dir is None:
        raise FileNotFoundError("the filters metric needs MOSES's SMARTS lists and no folder was "
                                f"given (set $GEN_JAX_DATA_DIR or pass one); {FILTERS_HOW_TO_GET}")
    folder = Path(path) if path is not None else Path(data_dir) / "moses" / "filters"
    missing = [f for f in FILTER_FILES if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}; {FILTERS_HOW_TO_GET}")
    return folder


@functools.cache
def filter_patterns(folder: str) -> tuple[Any, ...]:
    """The MCF and PAINS SMARTS of ``folder`` as RDKit query molecules (cached per process)."""
    with open(Path(folder) / "mcf.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    smarts = [r["smarts"] for r in rows]
    with open(Path(folder) / "wehi_pains.csv", newline="") as f:
        smarts += [r[0] for r in csv.reader(f) if r]
    patterns = tuple(rdkit().MolFromSmarts(s.strip()) for s in smarts)
    bad = [s.strip() for s, p in zip(smarts, patterns, strict=True) if p is None]
    if bad:
        raise ValueError(f"{len(bad)} SMARTS in {folder} do not parse, e.g. {bad[0][:60]!r}")
    return patterns


def passes_filters(m: Any, folder: str) -> bool:
    """MOSES's filters: no ring of 8 or more atoms, no charged atom, only C N S O F Cl Br H, no
    MCF or PAINS match (on the molecule with explicit hydrogens), and a SMILES that parses."""
    if m is None or _largest_ring(m) >= 8:
        return False
    if any(a.GetFormalCharge() != 0 or a.GetSymbol() not in FILTER_ATOMS for a in m.GetAtoms()):
        return False
    with_h = rdkit().AddHs(m)
    if any(with_h.HasSubstructMatch(p) for p in filter_patterns(folder)):
        return False
    smiles = rdkit().MolToSmiles(m, isomericSmiles=False)
    return bool(smiles) and rdkit().MolFromSmiles(smiles) is not None


def describe(smiles: str, *, properties: Sequence[str],
             filters: str | None) -> dict[str, Any] | None:
    """Everything MOSES's metrics need of one molecule, or None when ``smiles`` is invalid:
    ``fingerprint``, ``fragments``, ``scaffold``, each property, and ``filters`` (pass/fail)
    when a filters folder is given."""
    m = mol(smiles)
    if m is None:
        return None
    out: dict[str, Any] = {"fingerprint": np.packbits(fingerprint(m)), "fragments": fragments(m),
                           "scaffold": scaffold(m)}
    for name in properties:
        value = property_fn(name)(m)
        out[name] = value if math.isfinite(value) else math.nan
    if filters is not None:
        out["filters"] = passes_filters(m, filters)
    return out


def molecule_grid(smiles: Sequence[str], path: str | Path, *, provenance: Provenance,
                  num: int = 32, per_row: int = 8, size: int = 200) -> int:
    """Draws the first ``num`` valid molecules of ``smiles`` (RDKit) as a PNG grid carrying
    ``provenance`` (:mod:`gen_jax.provenance`), ``per_row`` a row, ``size`` pixels a cell, each
    labelled with its index in ``smiles``; returns how many were drawn (nothing is written
    when none is valid)."""
    draw = require("rdkit.Chem.Draw", "molecules", "molecule drawings")
    picked = []
    for i, s in enumerate(smiles):
        m = mol(s)
        if m is not None:
            picked.append((i, m))
            if len(picked) == num:
                break
    if picked:
        image = draw.MolsToGridImage([m for _, m in picked], molsPerRow=per_row,
                                     subImgSize=(size, size),
                                     legends=[f"#{i}" for i, _ in picked])
        save_png(image.convert("RGB"), path, provenance)
    return len(picked)


def _chunk(fn: Callable[[str], T], items: Sequence[str]) -> list[T]:
    return [fn(s) for s in items]


def map_molecules(fn: Callable[[str], T], smiles: Iterable[str], *, n_jobs: int = 1,
                  chunk: int = 2048, progress: Callable[[int], None] | None = None) -> list[T]:
    """``[fn(s) for s in smiles]``, in ``n_jobs`` worker processes (spawned: no fork of a JAX
    process) when ``n_jobs > 1``; ``fn`` must be picklable (a module-level function or a
    ``functools.partial`` of one). ``progress(n)`` is called after each chunk of ``n``."""
    items = list(smiles)
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    out: list[T] = []
    if n_jobs <= 1 or len(chunks) <= 1:
        for c in chunks:
            out += _chunk(fn, c)
            if progress:
                progress(len(c))
        return out
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(n_jobs, mp_context=context) as pool:
        for c, result in zip(chunks, pool.map(functools.partial(_chunk, fn), chunks), strict=True):
            out += result
            if progress:
                progress(len(c))
    return out
