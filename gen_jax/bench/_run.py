"""Runs workloads and writes their results as JSON and a markdown table."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ._harness import (
    PACKAGE_ROOT,
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
    interpreter and imports included: ``baseline_rss_mb`` is the process's peak before the
    workload)."""
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


def in_subprocess(function: str, *args: Any) -> Any:
    """``function(*args)`` of this module, run in a fresh Python process: the same interpreter,
    environment (XLA_FLAGS included) and gen_jax package as this one (``-P`` and PYTHONPATH:
    never a ``gen_jax`` in the current folder); its result goes back as JSON. Settings made
    with ``jax.config.update`` in this process do not carry over."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    code = (f"import json, sys; from gen_jax.bench._run import {function}; "
            f"print(json.dumps({function}(*json.loads(sys.argv[1]))))")
    proc = subprocess.run([sys.executable, "-P", "-c", code, json.dumps(args)], env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{function}{args} failed in its process (exit {proc.returncode}): "
                           f"{proc.stderr.strip().splitlines()[-1] if proc.stderr else ''}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def time_in_subprocess(name: str, repeats: int, warmup: int) -> dict[str, Any]:
    """:func:`time_workload` in a process of its own (:func:`in_subprocess`), so that its peak
    memory is the workload's own, not the high-water mark of the workloads timed before it."""
    return in_subprocess("time_workload", name, repeats, warmup)


def peak_matmul_in_subprocess(n: int) -> float:
    """:func:`peak_matmul_flops` in a process of its own, so that this one holds no device
    memory (a GPU backend preallocates most of it) while the workloads run."""
    return in_subprocess("peak_matmul_fresh", n)


def peak_matmul_fresh(n: int) -> float:
    """:func:`peak_matmul_flops` with the compilation cache off (:func:`compile_fresh`)."""
    compile_fresh()
    return peak_matmul_flops(n)


def run_benchmarks(
    names: list[str], *, repeats: int = 30, warmup: int = 5, peak_n: int = 4096
) -> dict[str, Any]:
    """Times the device's peak matmul rate, then each named workload, each in a process of
    its own.

    Returns:
      A JSON-ready report: environment, the measured peak FLOP/s, and per workload the timing
      summary, FLOPs per call, achieved FLOP/s and its fraction of the peak, and the peak
      memory of the process that ran it (with its baseline: that process before the
      workload, i.e. the interpreter and the imports).
    """
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workload(s) {unknown}; choose from {sorted(WORKLOADS)}")
    peak = peak_matmul_in_subprocess(peak_n)
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
        " peak RSS MiB (before the workload) |",
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
