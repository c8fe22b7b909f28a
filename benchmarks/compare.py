"""Side by side: gen_jax against the libraries a user would otherwise pick, on W1-W9.

* W1-W3, W6 (flows): flowjax (JAX), nflows, zuko and normflows (PyTorch);
* W4, W5, W9: plain PyTorch (``others/torch_plain.py``);
* W7: the ``prdc`` package (precision/recall/density/coverage) and a scipy ``sqrtm`` Frechet
  distance (``others/metric_workloads.py``);
* W8: the same U-Net in diffusers (``others/diffusers_workloads.py``).

Every library runs the same workload (layer sizes, masks, batch, optimizer of BENCHMARKS.md;
see each module in ``benchmarks/others/`` for where a library cannot match it exactly) in one
process, timed by the same clock: the first call (compile), warm-up, then the median over
rounds in which the libraries take turns (round-robin), so that the shared machine's changing
load hits all of them alike. gen_jax's side is the production workload of
``gen_jax.bench.WORKLOADS``. Needs the ``bench`` extra (``pip install -e .[bench]``; CPU torch)::

    python benchmarks/compare.py                                   # every workload and library
    python benchmarks/compare.py w2 w3 --libraries gen_jax flowjax --repeats 10
    python benchmarks/compare.py --out benchmarks/results/2026-11-24-cpu-compare.json
    python benchmarks/plot.py benchmarks/results/2026-11-24-cpu-compare.json   # bar chart
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.metadata as md
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
# torch's OpenMP workers otherwise spin between parallel regions: with JAX's threads in the same
# process, or any other load on the cores, a 2-thread torch step then ran 10-40x slower here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import jax  # noqa: E402

from gen_jax.bench import (  # noqa: E402
    WORKLOADS,
    Timing,
    check_trained,
    compile_fresh,
    environment,
    peak_matmul_flops,
)

LIBRARIES = ("gen_jax", "flowjax", "nflows", "zuko", "normflows", "torch", "prdc", "scipy",
             "diffusers")
TORCH_LIBRARIES = ("nflows", "zuko", "normflows", "torch", "diffusers")
_FLOW_LIBRARIES = ("gen_jax", "flowjax", "nflows", "zuko", "normflows")
WORKLOAD_LIBRARIES = {
    "w1": _FLOW_LIBRARIES, "w2": _FLOW_LIBRARIES, "w3": _FLOW_LIBRARIES,
    "w4": ("gen_jax", "torch"), "w5": ("gen_jax", "torch"), "w6-flow": _FLOW_LIBRARIES,
    "w7-fd": ("gen_jax", "scipy"), "w7-prdc": ("gen_jax", "prdc"),
    "w8": ("gen_jax", "diffusers"), "w8-sample": ("gen_jax", "diffusers"),
    "w9": ("gen_jax", "torch"),
}
"""Workload id -> the libraries it is compared across (gen_jax first)."""
# BENCHMARKS.md: gen_jax at least this many times the fastest other library
TARGET = {"w1": 1.0, "w2": 2.0, "w3": 2.0, "w4": 1.0, "w5": 1.0, "w6-flow": 1.0,
          "w7-fd": 1.0, "w7-prdc": 5.0, "w8": 1.0, "w8-sample": 1.0, "w9": 1.0}
# Rounds and warm-up calls per workload unless --repeats/--warmup say otherwise: a W7 call
# takes seconds to a minute, a training step milliseconds.
DEFAULT_REPEATS = {"w7-fd": 5, "w7-prdc": 5, "w8": 10, "w8-sample": 3, "w9": 5}
DEFAULT_WARMUP = {"w7-fd": 1, "w7-prdc": 1, "w8": 2, "w8-sample": 1, "w9": 1}


def build(library: str, name: str):
    """The ``Workload`` of ``library`` for workload id ``name``."""
    if library == "gen_jax":
        return WORKLOADS[name]()
    if library == "flowjax":
        from others.flowjax_workloads import WORKLOADS as FLOWJAX

        return FLOWJAX[name]()
    if library == "torch":
        from others.torch_plain import WORKLOADS as PLAIN

        return PLAIN[library, name]()
    if library in ("prdc", "scipy"):
        from others.metric_workloads import WORKLOADS as METRICS

        return METRICS[library, name]()
    if library == "diffusers":
        from others.diffusers_workloads import WORKLOADS as DIFFUSERS

        return DIFFUSERS[name]()
    from others.torch_workloads import workload

    return workload(library, name)


def torch_peak_flops(n: int = 4096, repeats: int = 10) -> float | None:
    """FLOP/s of an ``n x n`` float32 matmul through torch (None without torch)."""
    try:
        import torch
    except ImportError:
        return None
    a, b = torch.randn(n, n), torch.randn(n, n)
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        torch.mm(a, b)
        if i:
            times.append(time.perf_counter() - t0)
    return 2.0 * n**3 / statistics.median(times)


def interleaved(workloads: dict[str, Any], *, repeats: int, warmup: int,
                min_seconds: float = 0.2) -> dict[str, tuple[Timing, list]]:
    """Times several workloads round-robin, so that a change of machine load hits all alike.

    Each library's first call (compile) and ``warmup`` calls come first; then ``repeats``
    rounds, each timing every library for about ``min_seconds`` (at least one call) in turn.
    Returns per library its :class:`Timing` (per-call seconds of each round) and the load
    averages before and after.
    """
    carries, first, calls = {}, {}, {}
    load_before = os.getloadavg()
    for lib, w in workloads.items():
        t0 = time.perf_counter()
        carry = jax.block_until_ready(w.call(w.carry))
        first[lib] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(warmup):
            carry = jax.block_until_ready(w.call(carry))
        per_call = (time.perf_counter() - t0) / warmup if warmup else first[lib]
        calls[lib] = max(1, int(min_seconds / max(per_call, 1e-6)))
        carries[lib] = carry
    times: dict[str, list[float]] = {lib: [] for lib in workloads}
    for _ in range(repeats):
        for lib, w in workloads.items():
            carry = carries[lib]
            t0 = time.perf_counter()
            for _ in range(calls[lib]):
                carry = w.call(carry)
            jax.block_until_ready(carry)
            times[lib].append((time.perf_counter() - t0) / calls[lib])
            carries[lib] = carry
    load = [load_before, os.getloadavg()]
    for lib in workloads:  # gen_jax's train states count skipped steps: none may be
        check_trained(carries[lib], 1 + warmup + repeats * calls[lib])
    return {lib: (Timing(first[lib], tuple(times[lib]), w.items_per_call), load)
            for lib, w in workloads.items()}


def summarize(name: str, res: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """gen_jax's rate over the fastest other library's, against BENCHMARKS.md's target for
    workload ``name`` (None unless gen_jax and another library both ran)."""
    others = {k: v["per_second"] for k, v in res.items()
              if k not in ("gen_jax", "summary") and "per_second" in v}
    if "per_second" not in res.get("gen_jax", {}) or not others:
        return None
    fastest = max(others, key=others.get)
    speedup = res["gen_jax"]["per_second"] / others[fastest]
    return {"fastest_other": fastest, "gen_jax_speedup": speedup, "target": TARGET[name],
            "met": speedup >= TARGET[name]}


def compare(names: list[str], libraries: list[str], *, repeats: int | None = None,
            warmup: int | None = None, peak_n: int = 4096,
            torch_threads: int | None = None) -> dict[str, Any]:
    """Times every (workload, library) pair among ``libraries``; returns a JSON-ready report.

    ``repeats``/``warmup`` default per workload (15/3, W7 5/1).
    """
    used = {lib for n in names for lib in WORKLOAD_LIBRARIES[n] if lib in libraries}
    if used & set(TORCH_LIBRARIES):
        from others.torch_workloads import set_threads

        torch_threads = set_threads(torch_threads)
    else:
        torch_threads = None
    peak = peak_matmul_flops(peak_n)
    torch_peak = torch_peak_flops(peak_n) if torch_threads else None
    results: dict[str, dict[str, Any]] = {}
    rounds = {}
    for name in names:
        flops = None  # the definition's matmul FLOPs per call, from gen_jax's workload
        results[name] = {}
        built = {}
        rounds[name] = repeats or DEFAULT_REPEATS.get(name, 15)
        for lib in (lib for lib in WORKLOAD_LIBRARIES[name] if lib in libraries):
            try:
                built[lib] = build(lib, name)
            except Exception as e:  # a library that cannot run a workload is reported
                results[name][lib] = {"error": f"{type(e).__name__}: {e}"}
        timings = interleaved(built, repeats=rounds[name],
                              warmup=DEFAULT_WARMUP.get(name, 3) if warmup is None else warmup)
        for lib, (t, load) in timings.items():
            w = built[lib]
            flops = w.matmul_flops if lib == "gen_jax" else flops
            results[name][lib] = {**t.summary(), "description": w.description,
                                  "loadavg": load, "own_matmul_flops": w.matmul_flops}
        del built, timings
        gc.collect()
        res = results[name]
        flops = flops or WORKLOADS[name]().matmul_flops
        for r in res.values():
            if "median_s" in r:  # a library's own count where it does different work (W7)
                done = r.get("own_matmul_flops") or flops
                r["achieved_gflops"] = done / r["median_s"] / 1e9
                r["fraction_of_jax_peak"] = done / r["median_s"] / peak
        summary = summarize(name, res)
        if summary is not None:
            res["summary"] = summary
    versions = {}
    for pkg in ("flowjax", "equinox", "torch", "nflows", "zuko", "normflows", "prdc", "scipy",
                "scikit-learn", "diffusers"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    env = environment()
    env["versions"] |= versions
    env["torch_threads"] = torch_threads
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "environment": env,
        "peak_matmul_gflops": peak / 1e9,
        "torch_peak_matmul_gflops": None if torch_peak is None else torch_peak / 1e9,
        "peak_matmul_n": peak_n,
        "repeats": rounds,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "results": results,
    }


def markdown(report: dict[str, Any]) -> str:
    """The comparison as one markdown table per workload."""
    tp = report["torch_peak_matmul_gflops"]
    lines = [f"Measured {report['date']} ({report['environment']['affinity_cores']} cores, torch "
             f"threads {report['environment']['torch_threads']}); peak float32 matmul: jax "
             f"{report['peak_matmul_gflops']:.0f} GFLOP/s"
             + (f", torch {tp:.0f} GFLOP/s" if tp else "") + f" (n = {report['peak_matmul_n']})"
             "; median over interleaved rounds (per workload: "
             + ", ".join(f"{k} {v}" for k, v in report["repeats"].items()) + ").", ""]
    for name, res in report["results"].items():
        unit = ("samples/s" if name.startswith("w6") or name == "w8-sample" else
                "evaluations/s" if name.startswith("w7") else "steps/s")
        lines += [f"**{name}**", "",
                  f"| library | {unit} (median) | min - max | first call s | % of jax peak |"
                  " gen_jax / library | load |", "| --- | --- | --- | --- | --- | --- | --- |"]
        ours = res.get("gen_jax", {}).get("per_second")
        for lib, r in res.items():
            if lib == "summary":
                continue
            if "error" in r:
                lines.append(f"| {lib} | failed: {r['error'][:80]} | | | | | |")
                continue
            ratio = f"{ours / r['per_second']:.2f}x" if ours else "-"
            lines.append(
                f"| {lib} | {r['per_second']:.4g} | {r['per_second_min']:.4g} - "
                f"{r['per_second_max']:.4g} | {r['compile_s']:.2f} | "
                f"{100 * r['fraction_of_jax_peak']:.0f}% | {ratio} | {r['loadavg'][0][0]:.1f} |")
        s = res.get("summary")
        if s:
            lines.append(f"\ngen_jax / fastest other ({s['fastest_other']}): "
                         f"{s['gen_jax_speedup']:.2f}x; target >= {s['target']:g}x: "
                         f"{'met' if s['met'] else 'missed'}.")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workloads", nargs="*", default=None,
                   help=f"workload ids among {', '.join(WORKLOAD_LIBRARIES)} (default: all)")
    p.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=LIBRARIES)
    p.add_argument("--repeats", type=int, default=None,
                   help="interleaved rounds (default 15; W7 5)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up calls (default 3; W7 1)")
    p.add_argument("--peak-n", type=int, default=4096)
    p.add_argument("--torch-threads", type=int, default=None,
                   help="torch intra-op threads (default: the cores this process may use)")
    p.add_argument("--out", default=None, help="JSON path; the .md table is written beside")
    args = p.parse_args(argv)
    compile_fresh()  # the first calls' times are real compiles, not loads from a disk cache
    unknown = [n for n in args.workloads or [] if n not in WORKLOAD_LIBRARIES]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOAD_LIBRARIES)}")
    report = compare(args.workloads or list(WORKLOAD_LIBRARIES), args.libraries,
                     repeats=args.repeats, warmup=args.warmup, peak_n=args.peak_n,
                     torch_threads=args.torch_threads)
    text = markdown(report)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
        out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
