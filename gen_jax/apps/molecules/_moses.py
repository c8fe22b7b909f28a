"""MOSES's metrics (Polykovskiy et al. 2020), re-implemented on RDKit and JAX.

Same definitions as ``moses.metrics.get_all_metrics`` (molsets 0.3.1), which no longer installs:
validity; unique@k among the first k valid molecules; novelty against the training SMILES; the
share passing MOSES's filters; FCD on ChemNet; SNN (mean Tanimoto similarity of each molecule's
Morgan fingerprint to its nearest reference neighbour); Frag and Scaf (cosine similarity of
BRICS-fragment and Bemis-Murcko-scaffold counts); IntDiv1/2 (one minus the power mean of pairwise
similarities within the set); and the Wasserstein-1 distances of logP, SA, QED and weight.

A reference set (MOSES's Test and TestSF, or a user's) is described once by
:func:`reference_set` and cached as an ``.npz`` (no pickle) with its provenance.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.stats

from ... import metrics
from ..._files import write_atomic_with
from . import _chem

MOSES_PROPERTIES = ("logp", "sa", "qed", "weight")
"""The properties whose distributions MOSES compares (its names: logP, SA, QED, weight)."""
_MOSES_NAMES = {"logp": "logP", "sa": "SA", "qed": "QED", "weight": "weight"}
REFERENCE_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class ReferenceSet:
    """What the metrics need of a reference set of molecules.

    Attributes:
      name: the set's name in metric keys (``Test``, ``TestSF``).
      fingerprints: ``[N, 128]`` uint8, packed Morgan bits (radius 2, 1024 bits) of the valid ones.
      fragments: BRICS fragment SMILES -> count over the set.
      scaffolds: scaffold SMILES -> count (scaffolds of two rings or more).
      properties: property name -> ``[N]`` values.
      fcd: ChemNet statistics, or None when the set was described without ChemNet.
      record: provenance (source, counts of valid and invalid SMILES, RDKit version).
    """

    name: str
    fingerprints: np.ndarray
    fragments: dict[str, int]
    scaffolds: dict[str, int]
    properties: dict[str, np.ndarray]
    fcd: metrics.FeatureStatistics | None
    record: dict[str, Any]


def rdkit_version() -> str:
    """The installed RDKit's version (part of every record: fingerprints change with it)."""
    return str(_chem.rdkit().rdBase.rdkitVersion)


@dataclasses.dataclass
class Described:
    """Per-molecule descriptions of a set (:func:`describe_all`), the invalid ones dropped."""

    smiles: list[str]
    fingerprints: np.ndarray
    fragments: Counter
    scaffolds: Counter
    properties: dict[str, np.ndarray]
    filters: np.ndarray | None
    invalid: int


def describe_all(smiles: Sequence[str], *, properties: Sequence[str] = MOSES_PROPERTIES,
                 filters: str | Path | None = None, n_jobs: int = 1,
                 progress: Callable[[int], None] | None = None) -> Described:
    """Describes every valid SMILES of ``smiles`` (:func:`_chem.describe`) and counts the rest."""
    for name in properties:
        _chem.property_fn(name)
    fn = functools.partial(_chem.describe, properties=tuple(properties),
                           filters=None if filters is None else str(filters))
    rows = _chem.map_molecules(fn, smiles, n_jobs=n_jobs, progress=progress)
    kept = [(s, r) for s, r in zip(smiles, rows, strict=True) if r is not None]
    frags, scafs = Counter(), Counter()
    for _, r in kept:
        frags.update(r["fragments"])
        if r["scaffold"] is not None:
            scafs[r["scaffold"]] += 1
    bits = (np.stack([r["fingerprint"] for _, r in kept]) if kept
            else np.zeros((0, _chem.MORGAN_BITS // 8), np.uint8))
    return Described(
        smiles=[s for s, _ in kept], fingerprints=bits, fragments=frags, scaffolds=scafs,
        properties={p: np.array([r[p] for _, r in kept], np.float64) for p in properties},
        filters=None if filters is None else np.array([r["filters"] for _, r in kept], bool),
        invalid=len(rows) - len(kept))


def reference_set(smiles: Sequence[str], name: str, *,
                  chemnet: metrics.ChemNetFeatures | None = None,
                  fcd: metrics.FeatureStatistics | None = None, n_jobs: int = 1,
                  record: dict[str, Any] | None = None) -> ReferenceSet:
    """Describes a reference set. SMILES are canonicalized with RDKit first (invalid ones are
    skipped and counted in the record). ``fcd``: ready ChemNet statistics (e.g. MOSES's
    ``test_fcd_stats.npz``); else they are computed with ``chemnet`` when given."""
    canon = [c for c in _chem.map_molecules(_chem.canonical, smiles, n_jobs=n_jobs)
             if c is not None]
    if len(canon) < 2:
        raise ValueError(f"reference set {name!r} has {len(canon)} valid SMILES of "
                         f"{len(smiles)}; it needs at least 2")
    d = describe_all(canon, n_jobs=n_jobs)
    if fcd is None and chemnet is not None:
        fcd = metrics.feature_statistics(chemnet.features(canon))
    rec = {"format": REFERENCE_FORMAT, "name": name, "num": len(canon),
           "invalid": len(smiles) - len(canon), "rdkit": rdkit_version(),
           "fcd": "given" if fcd is not None and chemnet is None else
           ("computed" if fcd is not None else None), **(record or {})}
    return ReferenceSet(name, d.fingerprints, dict(d.fragments), dict(d.scaffolds),
                        d.properties, fcd, rec)


def _counts_arrays(prefix: str, counts: dict[str, int]) -> dict[str, np.ndarray]:
    keys = sorted(counts)
    return {f"{prefix}_keys": np.array(keys, dtype=str),
            f"{prefix}_counts": np.array([counts[k] for k in keys], np.int64)}


def save_reference(path: str | Path, ref: ReferenceSet) -> None:
    """Writes ``ref`` to an ``.npz`` (strings as unicode arrays, no pickle), atomically."""
    arrays = {"fingerprints": ref.fingerprints, "record": np.array(json.dumps(ref.record)),
              "name": np.array(ref.name), **_counts_arrays("fragments", ref.fragments),
              **_counts_arrays("scaffolds", ref.scaffolds),
              **{f"property_{k}": v for k, v in ref.properties.items()}}
    if ref.fcd is not None:
        arrays.update(fcd_mu=np.asarray(ref.fcd.mean), fcd_sigma=np.asarray(ref.fcd.cov))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic_with(path, lambda tmp: np.savez(tmp, **arrays))


def load_reference(path: str | Path) -> ReferenceSet:
    """Reads a file written by :func:`save_reference`."""
    with np.load(path, allow_pickle=False) as f:
        if "fingerprints" not in f.files or "record" not in f.files:
            raise ValueError(f"{path} is not a molecules reference file (gen-jax molecules "
                             "reference writes them)")
        record = json.loads(str(f["record"]))
        if record.get("format") != REFERENCE_FORMAT:
            raise ValueError(f"{path} has reference format {record.get('format')}, this "
                             f"version reads {REFERENCE_FORMAT}; recompute it")

        def counts(prefix: str) -> dict[str, int]:
            return dict(zip(f[f"{prefix}_keys"].tolist(), f[f"{prefix}_counts"].tolist(),
                            strict=True))

        fcd = (metrics.FeatureStatistics(f["fcd_mu"], f["fcd_sigma"]) if "fcd_mu" in f.files
               else None)
        props = {k[len("property_"):]: f[k] for k in f.files if k.startswith("property_")}
        return ReferenceSet(str(f["name"]), f["fingerprints"], counts("fragments"),
                            counts("scaffolds"), props, fcd, record)


def cosine_similarity(a: dict[str, int], b: dict[str, int]) -> float:
    """Cosine similarity of two count dictionaries (missing keys count 0); NaN when one is
    empty, as MOSES returns."""
    if not a or not b:
        return math.nan
    keys = sorted(set(a) | set(b))
    x = np.array([a.get(k, 0) for k in keys], np.float64)
    y = np.array([b.get(k, 0) for k in keys], np.float64)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


def fraction_unique(canonical_smiles: Sequence[str], k: int | None = None) -> float:
    """Share of distinct SMILES among the first ``k`` (all when fewer, with a warning, as MOSES)."""
    if not canonical_smiles:
        raise ValueError("unique@k needs at least one valid molecule")
    if k is not None:
        if len(canonical_smiles) < k:
            warnings.warn(f"unique@{k} computed on the {len(canonical_smiles)} valid molecules "
                          "there are", stacklevel=2)
        canonical_smiles = canonical_smiles[:k]
    return len(set(canonical_smiles)) / len(canonical_smiles)


def novelty(canonical_smiles: Iterable[str], train: Collection[str]) -> float:
    """Share of the distinct generated SMILES that are not in ``train`` (compared as strings:
    pass canonical training SMILES, as MOSES's are)."""
    distinct = set(canonical_smiles)
    if not distinct:
        raise ValueError("novelty needs at least one valid molecule")
    train = train if isinstance(train, set | frozenset) else set(train)
    return len(distinct - train) / len(distinct)


def compare(gen: Described, ref: ReferenceSet, *, gen_fcd: metrics.FeatureStatistics | None,
            block: int = 1024) -> dict[str, float]:
    """FCD, SNN, Frag and Scaf of described molecules against one reference set."""
    out = {}
    if gen_fcd is not None and ref.fcd is not None:
        out[f"FCD/{ref.name}"] = float(metrics.frechet_distance_from_statistics(gen_fcd, ref.fcd))
    out[f"SNN/{ref.name}"] = metrics.nearest_tanimoto(
        np.unpackbits(gen.fingerprints, axis=1), np.unpackbits(ref.fingerprints, axis=1),
        block=block)
    out[f"Frag/{ref.name}"] = cosine_similarity(ref.fragments, gen.fragments)
    out[f"Scaf/{ref.name}"] = cosine_similarity(ref.scaffolds, gen.scaffolds)
    return out


def moses_metrics(smiles: Sequence[str], *, test: ReferenceSet,
                  test_scaffolds: ReferenceSet | None = None,
                  train: Collection[str] | None = None,
                  chemnet: metrics.ChemNetFeatures | None = None,
                  filters: str | Path | None = None, ks: Sequence[int] = (1000, 10000),
                  n_jobs: int = 1, block: int = 1024) -> dict[str, float]:
    """MOSES's metric table of generated ``smiles``.

    Args:
      smiles: generated SMILES, invalid ones included (they count against validity).
      test: the reference set (:func:`reference_set`); FCD needs its ChemNet statistics and
        ``chemnet``; property distances are measured against it.
      test_scaffolds: a second reference set (MOSES's TestSF), or None.
      train: training SMILES for novelty (skipped when None).
      chemnet: the FCD's network (:func:`gen_jax.metrics.load_chemnet` with
        ``encoding="fcd_torch"`` gives MOSES's numbers); FCD is skipped when None.
      filters: the folder of MOSES's filter SMARTS (:func:`_chem.filters_dir`); skipped if None.
      ks: the k of unique@k.
      n_jobs: worker processes for RDKit.
      block: rows per Tanimoto tile.

    Returns:
      Metric name (MOSES's names) -> value.
    """
    smiles = list(smiles)
    if not smiles:
        raise ValueError("no generated SMILES to evaluate")
    canon = _chem.map_molecules(_chem.canonical, smiles, n_jobs=n_jobs)
    valid = [c for c in canon if c is not None]
    out: dict[str, float] = {"valid": len(valid) / len(smiles)}
    if not valid:
        return out
    for k in ks:
        out[f"unique@{k}"] = fraction_unique(valid, k)
    gen = describe_all(valid, filters=filters, n_jobs=n_jobs)
    gen_fcd = (metrics.feature_statistics(chemnet.features(valid))
               if chemnet is not None and len(valid) > 1 else None)
    for ref in (test, test_scaffolds):
        if ref is not None:
            out.update(compare(gen, ref, gen_fcd=gen_fcd, block=block))
    bits = np.unpackbits(gen.fingerprints, axis=1)
    out["IntDiv"] = metrics.internal_diversity(bits, block=block)
    out["IntDiv2"] = metrics.internal_diversity(bits, power=2.0, block=block)
    if gen.filters is not None:
        out["Filters"] = float(np.mean(gen.filters))
    for name in MOSES_PROPERTIES:
        out[_MOSES_NAMES[name]] = float(scipy.stats.wasserstein_distance(
            test.properties[name], gen.properties[name]))
    if train is not None:
        out["Novelty"] = novelty(valid, train)
    return out


def file_digest(path: str | Path) -> str:
    """The first 16 hex digits of a file's sha256 (names cached reference sets)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]
