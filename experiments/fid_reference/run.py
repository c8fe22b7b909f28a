"""Inception FID of real data against real data on MNIST and Fashion-MNIST: the floor every
model's FID on these sets is read against, and the numbers to set beside published ones.

    python experiments/fid_reference/run.py --data-dir ../shared/data [--train-size 10000]

Features of each split are computed in chunks of 500 images and kept in
``runs/fid_reference/features`` (a killed run resumes at its last chunk). Writes
``results.json`` beside this file: FID(first M test images, first N training images), and FID
between the two halves of those test images and of those training images
(``--test-size M --train-size N``), one row per (data set, resize, M, N).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from gen_jax import data, metrics

HERE = Path(__file__).parent
CHUNK = 500


def features(extractor, name: str, split: str, size: int, cache: Path,
             data_dir: str | None) -> tuple[np.ndarray, float]:
    """``[size, 2048]`` features of the first ``size`` images; seconds spent on new chunks."""
    images = metrics.dataset_images(data.load(name, split, data_dir=data_dir, size=size))
    out, seconds = [], 0.0
    for start in range(0, size, CHUNK):
        path = cache / f"{name}_{split}_{extractor.record['resize']}_{start:06d}.npy"
        if not path.is_file():
            t0 = time.perf_counter()
            np.save(path, extractor.features(images[start:start + CHUNK]))
            seconds += time.perf_counter() - t0
            print(f"{name} {split} {start + CHUNK}/{size} "
                  f"({CHUNK / (time.perf_counter() - t0):.1f} images/s)", flush=True)
        out.append(np.load(path))
    return np.concatenate(out), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--test-size", type=int, default=10_000)
    parser.add_argument("--resize", default="tf", choices=metrics.INCEPTION_RESIZES)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion_mnist"])
    parser.add_argument("--cache", default="runs/fid_reference/features")
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    extractor = metrics.load_inception(resize=args.resize)
    results_path = HERE / "results.json"
    for name in args.datasets:
        test, s1 = features(extractor, name, "test", args.test_size, cache, args.data_dir)
        train, s2 = features(extractor, name, "train", args.train_size, cache, args.data_dir)
        half = len(test) // 2
        stats = {k: metrics.feature_statistics(v) for k, v in
                 (("test", test), ("train", train), ("half_1", test[:half]),
                  ("half_2", test[half:]), ("train_1", train[:len(train) // 2]),
                  ("train_2", train[len(train) // 2:]))}
        fd = metrics.frechet_distance_from_statistics
        row = {
            "fid_test_vs_train": round(float(fd(stats["test"], stats["train"])), 4),
            "fid_test_half_vs_half": round(float(fd(stats["half_1"], stats["half_2"])), 4),
            "fid_train_half_vs_half": round(float(fd(stats["train_1"], stats["train_2"])), 4),
            "num_test": len(test), "num_train": len(train), "resize": args.resize,
            "inception_sha256": extractor.record["sha256"][:12],
            "date": time.strftime("%Y-%m-%d"),
        }
        if s1 + s2 > 0:
            new = sum(1 for p in cache.glob(f"{name}_*_{args.resize}_*.npy"))
            row["seconds_this_run"] = round(s1 + s2, 1)
            row["chunks_cached"] = new
        # read just before writing: other runs of this script may have added rows meanwhile
        results = json.loads(results_path.read_text()) if results_path.is_file() else {}
        results[f"{name}/{args.resize}/test{len(test)}-train{len(train)}"] = row
        results_path.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({name: row}))


if __name__ == "__main__":
    main()
