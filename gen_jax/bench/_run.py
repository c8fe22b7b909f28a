"""Runs workloads and writes their results as JSON and a markdown table."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from ._harness import (
    device_peak_memory_mb,
    environment,
    peak_matmul_flops,
    peak_rss_mb,
    time_calls,
)
from ._workloads import WORKLOADS


def run_benchmarks(
    names: list[str], *, repeats: int = 30, warmup: int = 5, peak_n: int = 4096
) -> dict[str, Any]:
    """Times each named workload and the device's peak matmul rate in the same process.

    Returns:
      A JSON-ready report: environment, the measured peak FLOP/s, and per workload the timing
      summary, FLOPs per call, achieved FLOP/s and its fraction of the peak, and peak memory.
    """
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workload(s) {unknown}; choose from {sorted(WORKLOADS)}")
    peak = peak_matmul_flops(peak_n)
    results = {}
    for name in names:
        w = WORKLOADS[name]()
        timing = time_calls(w.call, w.carry, repeats=repeats, warmup=warmup,
                            items_per_call=w.items_per_call)
        achieved = w.matmul_flops / timing.median_s
        results[name] = {
            "workload": w.name, "description": w.description, **timing.summary(),
            "matmul_gflop_per_call": w.matmul_flops / 1e9,
            "achieved_gflops": achieved / 1e9,
            "fraction_of_peak": achieved / peak,
            "peak_rss_mb": peak_rss_mb(),
            "device_peak_mb": device_peak_memory_mb(),
        }
        del w
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
        "| workload | per second (median) | min - max | compile s | GFLOP/call | % of peak |"
        " peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["results"].values():
        lines.append(
            f"| {r['workload']} | {rate(r['per_second'])} | {rate(r['per_second_min'])} - "
            f"{rate(r['per_second_max'])} | {r['compile_s']:.2f} | {r['matmul_gflop_per_call']:.3f}"
            f" | {100 * r['fraction_of_peak']:.0f}% | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines) + "\n"


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
