"""The "Train" row of MOSES's metric table, recomputed by gen_jax's MOSES metrics on a random
sample of the training set (what a perfect generator would score at that sample size).

    python experiments/molecules_moses/train_row.py --data-dir ../shared/data \
        --chemnet-weights ../shared/models/chemnet/ChemNet_v0.13_pretrained.pt --num 30000

Writes ``train_row_<num>.json`` beside this file. Reference sets are described once and cached
in ``$GEN_JAX_CACHE_DIR/molecules`` (a rerun reuses them).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from gen_jax import metrics
from gen_jax.apps import molecules

HERE = Path(__file__).parent
MOSES_TRAIN_ROW = {  # molsets 0.3.1, data/samples/train_metrics.csv
    "valid": 1.0, "unique@1000": 1.0, "unique@10000": 1.0, "FCD/Test": 0.007976462128127082,
    "SNN/Test": 0.6419157421820585, "Frag/Test": 0.9999834247122634,
    "Scaf/Test": 0.9907434796042832, "FCD/TestSF": 0.4755338128709923,
    "SNN/TestSF": 0.5858705935050414, "Frag/TestSF": 0.9985992940596576, "Scaf/TestSF": 0.0,
    "IntDiv": 0.856675535150156, "IntDiv2": 0.8507542837548052, "Filters": 1.0,
    "logP": 7.60592376969349e-06, "SA": 1.2654137018786038e-06, "QED": 1.4311878921563492e-08,
    "weight": 0.0034553379048247734, "Novelty": 1.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--chemnet-weights", default=None)
    parser.add_argument("--num", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    t0 = time.perf_counter()
    chemnet = metrics.load_chemnet(args.chemnet_weights, batch_size=512, encoding="fcd_torch")
    refs = {}
    for split in ("test", "test_scaffolds"):
        t = time.perf_counter()
        refs[split] = molecules.moses_reference(split, data_dir=args.data_dir, chemnet=chemnet,
                                                n_jobs=args.n_jobs)
        print(f"reference {split}: {refs[split].record['num']} molecules "
              f"({time.perf_counter() - t:.0f} s)", flush=True)
    train = molecules.dataset_smiles("moses", "train", args.data_dir)
    rows = np.random.default_rng(args.seed).choice(len(train), args.num, replace=False)
    sample = [train[i] for i in sorted(rows)]
    t = time.perf_counter()
    values = molecules.moses_metrics(
        sample, test=refs["test"], test_scaffolds=refs["test_scaffolds"], train=set(train),
        chemnet=chemnet, filters=molecules.filters_dir(data_dir=args.data_dir),
        n_jobs=args.n_jobs)
    result = {"date": time.strftime("%Y-%m-%d"), "num": args.num, "seed": args.seed,
              "rdkit": refs["test"].record["rdkit"], "metrics_seconds": round(
                  time.perf_counter() - t), "total_seconds": round(time.perf_counter() - t0),
              "ours": values, "moses_train_row": MOSES_TRAIN_ROW,
              "references": {k: v.record for k, v in refs.items()}}
    out = HERE / f"train_row_{args.num}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
