"""Bar chart of a side-by-side report: gen_jax's speed over each other library's, per workload.

    python benchmarks/plot.py benchmarks/results/2026-11-24-cpu-compare.json [--out chart.png]
    python benchmarks/plot.py all.json w7-rerun.json --out chart.png  # later files win

One group of bars per workload, one bar per other library (gen_jax's median rate divided by the
library's, log scale; 1.0 = level, above = gen_jax faster), with BENCHMARKS.md's target for the
workload drawn as a tick. Written next to the report as ``.png`` unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def ratios(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """``{workload: {library: gen_jax rate / library rate}}`` for every timed pair."""
    out: dict[str, dict[str, float]] = {}
    for name, res in report["results"].items():
        ours = res.get("gen_jax", {}).get("per_second")
        if not ours:
            continue
        out[name] = {lib: ours / r["per_second"] for lib, r in res.items()
                     if lib not in ("gen_jax", "summary") and "per_second" in r}
    return out


def plot(report: dict[str, Any], out: str | Path) -> Path:
    """Draws the ratio chart of ``report`` into ``out`` (PNG); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    data = ratios(report)
    libraries = sorted({lib for r in data.values() for lib in r})
    if not data or not libraries:
        raise ValueError("the report has no gen_jax / library pair to plot; run "
                         "benchmarks/compare.py with gen_jax and another library")
    colours = dict(zip(libraries, plt.cm.tab10.colors, strict=False))
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(data), 4.2), dpi=120)
    width = 0.8 / max(len(r) for r in data.values())
    for i, (name, res) in enumerate(data.items()):
        for j, (lib, value) in enumerate(sorted(res.items())):
            x = i + width * (j + 0.5 - len(res) / 2)  # the group centred on its tick
            ax.bar(x, value, width, color=colours[lib],
                   label=lib if lib not in ax.get_legend_handles_labels()[1] else None)
            ax.annotate(f"{value:.2f}", (x, value), ha="center", va="bottom", fontsize=7)
        target = report["results"][name].get("summary", {}).get("target")
        if target:
            ax.hlines(target, i - 0.45, i + 0.45, colors="black", linestyles="dashed",
                      linewidth=1, label="target" if i == 0 else None)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.set_xticks(range(len(data)), list(data))
    ax.set_ylabel("gen_jax speed / library speed")
    ax.set_title(f"gen_jax vs other libraries, {report['date'][:10]} "
                 f"({report['environment']['affinity_cores']} cores)", fontsize=10)
    ax.legend(fontsize=7, ncols=2)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("reports", nargs="+", help="JSON written by benchmarks/compare.py --out; "
                   "with several, a workload's results come from the last file that has it")
    p.add_argument("--out", default=None, help="PNG path (default: the first report's .png)")
    args = p.parse_args(argv)
    paths = [Path(r) for r in args.reports]
    for path in paths:
        if not path.is_file():
            p.error(f"{path} does not exist; write one with benchmarks/compare.py --out {path}")
    reports = [json.loads(path.read_text()) for path in paths]
    report = merge(reports)
    print(plot(report, args.out or paths[0].with_suffix(".png")))
    return 0


def merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report from several: each workload's results from the last report that has it."""
    out = {**reports[0], "results": {}}
    for report in reports:
        out["results"].update(report["results"])
    return out


if __name__ == "__main__":
    sys.exit(main())
