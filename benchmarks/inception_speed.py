"""The FID Inception feature pass: gen_jax's Flax port against the original TorchScript model
in torch, on the same images (``bench`` extra: CPU torch).

    python benchmarks/inception_speed.py --weights ../shared/models/inception_fid/default_1.pt \
        --batch 32 --repeats 7 --out benchmarks/results/DATE-cpu-inception.json

Timing: both models in one process, taking turns (round-robin) so that the shared machine's
changing load hits both alike; images/s is the batch over the median round. Memory: each model
alone in a fresh process (``--memory jax|torch``): the peak resident set size during a batch
(sampled every 2 ms) above the size before it, with the model loaded and warmed up by one batch.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see compare.py

import numpy as np  # noqa: E402


def images(batch: int) -> np.ndarray:
    """``[batch, 299, 299, 3]`` uint8 test images (fixed noise: both models see the same)."""
    return np.random.default_rng(0).integers(0, 256, (batch, 299, 299, 3), dtype=np.uint8)


def jax_model(weights: str, batch: int):
    from gen_jax import metrics

    extractor = metrics.load_inception(weights, batch_size=batch)
    return lambda x: extractor.features(x.astype(np.float32) / 255.0)


def torch_model(weights: str, threads: int):
    import torch

    torch.set_num_threads(threads)
    net = torch.jit.load(weights, map_location="cpu").eval()

    def run(x):
        t = torch.from_numpy(x.astype(np.float32) / 255.0 * (0.9921875 + 1) - 1)
        with torch.no_grad():
            return net(t.permute(0, 3, 1, 2).contiguous()).numpy()

    return run


def rss_mib() -> float:
    """This process's resident set size now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def memory(library: str, weights: str, batch: int, threads: int) -> float:
    """MiB the second batch adds, at its peak, to a process that has loaded the model and run
    one batch (RSS sampled every 2 ms while it runs)."""
    x = images(batch)
    run = jax_model(weights, batch) if library == "jax" else torch_model(weights, threads)
    run(x)
    gc.collect()
    before, peak, done = rss_mib(), [0.0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib())
            time.sleep(0.002)

    watcher = threading.Thread(target=sample)
    watcher.start()
    run(x)
    done.set()
    watcher.join()
    return max(peak[0], rss_mib()) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="default_1.pt (torch loads it; "
                        "gen_jax converts it into its cache)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--memory", choices=("jax", "torch"), default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.memory:
        print(memory(args.memory, args.weights, args.batch, args.threads))
        return
    x = images(args.batch)
    runs = {"gen_jax": jax_model(args.weights, args.batch),
            "torch (TorchScript original)": torch_model(args.weights, args.threads)}
    outputs = {name: run(x) for name, run in runs.items()}  # compile / warm up
    gap = np.abs(outputs["gen_jax"] - outputs["torch (TorchScript original)"]).max()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run(x)
            times[name].append(time.perf_counter() - start)
    me = [sys.executable, __file__, "--weights", args.weights, "--batch", str(args.batch),
          "--threads", str(args.threads), "--memory"]
    mem = {name: float(subprocess.run(me + [lib], capture_output=True, text=True,
                                      check=True).stdout.split()[-1])
           for name, lib in (("gen_jax", "jax"), ("torch (TorchScript original)", "torch"))}
    rows = {name: {"images_per_s": round(args.batch / statistics.median(t), 2),
                   "median_s": round(statistics.median(t), 3),
                   "batch_peak_rss_mib": round(mem[name], 1)} for name, t in times.items()}
    import jax
    import torch

    report = {"date": datetime.date.today().isoformat(), "batch": args.batch,
              "repeats": args.repeats, "threads": args.threads, "cpus": os.cpu_count(),
              "load_avg": os.getloadavg(), "max_abs_feature_gap": float(gap),
              "versions": {"jax": jax.__version__, "torch": torch.__version__},
              "results": rows,
              "ratio_gen_jax_over_torch": round(
                  rows["gen_jax"]["images_per_s"]
                  / rows["torch (TorchScript original)"]["images_per_s"], 3)}
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
