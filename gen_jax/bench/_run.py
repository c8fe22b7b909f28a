"""Runs workloads and writes their results as JSON and a markdown table."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ._harness import (
    compile_fresh,
    device_peak_memory_mb,
    environment,
    peak_matmul_flops,
    peak_rss_mb,
    time_calls,
)
from ._workloads import WORKLOADS


def time_workload(name: str, repeats: int, warmup: int) -> dict[str, Any]:
    """Builds and times workload ``name`` in this process; its timing summary, matmul FLOPs
    per call and memory. Run in a fresh process, ``peak_rss_mb`` is this workload's peak (the
    jax runtime included: ``baseline_rss_mb`` is the process's peak before the workload)."""
    import jax  # noqa: PLC0415

    compile_fresh()
    jax.devices()  # the runtime is up before the baseline
    baseline = peak_rss_mb()
    w = WORKLOADS[name]()
    timing = time_calls(w.call, w.carry, repeats=repeats, warmup=warmup,
                        items_per_call=w.items_per_call)
    return {"workload": w.name, "description": w.description, **timing.summary(),
            "matmul_flops": w.matmul_flops, "baseline_rss_mb": baseline,
            "peak_rss_mb": peak_rss_mb(), "device_peak_mb": device_peak_memory_mb()}


def time_in_subprocess(name: str, repeats: int, warmup: int) -> dict[str, Any]:
    """:func:`time_workload` in a fresh Python process (this one's environment, XLA_FLAGS
    included), so that its peak memory is the workload's own, not the high-water mark of the
    workloads timed before it."""
    code = ("import json, sys; from gen_jax.bench._run import time_workload; "
            "print(json.dumps(time_workload(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))")
    proc = subprocess.run([sys.executable, "-c", code, name, str(repeats), str(warmup)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"workload {name} failed in its process (exit {proc.returncode}): "
                           f"{proc.stderr.strip().splitlines()[-1] if proc.stderr else ''}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_benchmarks(
    names: list[str], *, repeats: int = 30, warmup: int = 5, peak_n: int = 4096
) -> dict[str, Any]:
    """Times the device's peak matmul rate, then each named workload in a process of its own.

    Returns:
      A JSON-ready report: environment, the measured peak FLOP/s, and per workload the timing
      summary, FLOPs per call, achieved FLOP/s and its fraction of the peak, and the peak
      memory of the process that ran it (with its baseline: the jax runtime alone).
    """
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workload(s) {unknown}; choose from {sorted(WORKLOADS)}")
    peak = peak_matmul_flops(peak_n)
    results = {}
    for name in names:
        r = time_in_subprocess(name, repeats, warmup)
        flops = r.pop("matmul_flops")
        achieved = flops / r["median_s"]
        results[name] = {**r, "matmul_gflop_per_call": flops / 1e9,
                         "achieved_gflops": achieved / 1e9, "fraction_of_peak": achieved / peak}
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "environment": environment(),
        "peak_matmul_gflops": peak / 1e9,
        "peak_matmul_n": peak_n,
        "results": results,
    }


def rate(value: float) -> str:
    """A rate with three significant digits below 100 (0.183, 4.62, 61.3), else one decimal."""
    return f"{value:.3g}" if value < 100 else f"{value:.1f}"


def markdown_table(report: dict[str, Any]) -> str:
    """The report as a markdown table."""
    lines = [
        f"Measured {report['date']} on {report['environment']['backend']} "
        f"({report['environment']['affinity_cores']} cores); peak float32 matmul "
        f"{report['peak_matmul_gflops']:.0f} GFLOP/s (n = {report['peak_matmul_n']}).",
        "",
        "| workload | per second (median) | min - max | first call s | GFLOP/call | % of peak |"
        " peak RSS MiB (runtime alone) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["results"].values():
        lines.append(
            f"| {r['workload']} | {rate(r['per_second'])} | {rate(r['per_second_min'])} - "
            f"{rate(r['per_second_max'])} | {r['compile_s']:.2f} | {r['matmul_gflop_per_call']:.3f}"
            f" | {100 * r['fraction_of_peak']:.0f}% | {r['peak_rss_mb']:.0f}"
            f"{_baseline(r)} |")
    return "\n".join(lines) + "\n"


def _baseline(r: dict[str, Any]) -> str:
    """`` (N)``: the workload process's peak before the workload (absent in reports before
    2026-11-25, whose peak RSS was the running maximum of one process over all workloads)."""
    return f" ({r['baseline_rss_mb']:.0f})" if "baseline_rss_mb" in r else ""


def write_json(report: dict[str, Any], out: str | Path) -> Path:
    """Writes ``report`` to ``out`` as JSON (parent folders created); returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    return out


def write_report(report: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """Writes ``out`` (JSON) and the markdown table beside it (``.md``)."""
    out = write_json(report, out)
    md = out.with_suffix(".md")
    md.write_text(markdown_table(report))
    return out, md
