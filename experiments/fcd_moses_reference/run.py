"""MOSES's FCD reference statistics reproduced by gen_jax's ChemNet, and the FCD of a
training-set sample against them (the "Train" row of MOSES's table: FCD/Test 0.008).

    python experiments/fcd_moses_reference/run.py --data-dir ../shared/data \
        --weights ../shared/models/chemnet/ChemNet_v0.13_pretrained.pt

MOSES computed ``test_fcd_stats.npz`` / ``test_scaffolds_fcd_stats.npz`` (``mu`` [512],
``sigma`` [512, 512]) with ``fcd_torch``, which canonicalizes every SMILES with RDKit first
(and encodes them its own way: ``encoding="fcd_torch"`` here);
so does this script when RDKit is installed (99.98% of MOSES's test SMILES are already
canonical under RDKit 2026.09). Activations are computed in chunks of 4,096 molecules kept in
``runs/fcd_moses`` (a killed run resumes). Writes ``results.json`` beside this file.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np

from gen_jax import metrics

HERE = Path(__file__).parent
CHUNK = 4096


def read_smiles(path: Path) -> list[str]:
    with gzip.open(path, "rt") as f:
        header, *rows = f.read().split()
    assert header == "SMILES", header
    return rows


def canonical(smiles: list[str]) -> tuple[list[str], str]:
    try:
        from rdkit import Chem, RDLogger
    except ImportError:
        return smiles, "as given (RDKit not installed)"
    RDLogger.DisableLog("rdApp.*")
    return [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in smiles], "RDKit canonical"


def activations(chemnet, smiles: list[str], name: str, cache: Path) -> np.ndarray:
    out = []
    for start in range(0, len(smiles), CHUNK):
        path = cache / f"{name}_{start:07d}.npy"
        if not path.is_file():
            t0 = time.perf_counter()
            np.save(path, chemnet.features(smiles[start:start + CHUNK]))
            rate = min(CHUNK, len(smiles) - start) / (time.perf_counter() - t0)
            print(f"{name} {min(start + CHUNK, len(smiles))}/{len(smiles)} "
                  f"({rate:.0f} molecules/s)", flush=True)
        out.append(np.load(path))
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--train-sample", type=int, default=30_000)
    parser.add_argument("--cache", default="runs/fcd_moses")
    args = parser.parse_args()
    moses = Path(args.data_dir) / "moses"
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    chemnet = metrics.load_chemnet(args.weights, batch_size=512, encoding="fcd_torch")
    results = {"date": time.strftime("%Y-%m-%d"), "sets": {}}
    ours = {}
    for split in ("test", "test_scaffolds"):
        smiles, how = canonical(read_smiles(moses / f"{split}.csv.gz"))
        acts = activations(chemnet, smiles, split, cache)
        ours[split] = metrics.feature_statistics(acts)
        theirs, _ = metrics.load_statistics(moses / "reference" / f"{split}_fcd_stats.npz")
        mu, sigma = np.asarray(ours[split].mean), np.asarray(ours[split].cov)
        results["sets"][split] = {
            "num": len(smiles), "smiles": how,
            "fcd_ours_vs_moses_stats": float(
                metrics.frechet_distance_from_statistics(ours[split], theirs)),
            "max_abs_mu_gap": float(np.abs(mu - theirs.mean).max()),
            "sigma_rel_frobenius_gap": float(np.linalg.norm(sigma - theirs.cov)
                                             / np.linalg.norm(theirs.cov)),
        }
        (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    if args.train_sample:
        train = read_smiles(moses / "train.csv.gz")
        rows = np.random.default_rng(0).choice(len(train), args.train_sample, replace=False)
        sample, _ = canonical([train[i] for i in sorted(rows)])
        stats = metrics.feature_statistics(activations(chemnet, sample, "train_sample", cache))
        for split in ("test", "test_scaffolds"):
            theirs, _ = metrics.load_statistics(moses / "reference" / f"{split}_fcd_stats.npz")
            results[f"fcd_train{args.train_sample}_vs_{split}"] = float(
                metrics.frechet_distance_from_statistics(stats, theirs))
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
