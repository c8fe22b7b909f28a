"""Smoke mode: every registered workload for a step or two, so the harness never goes stale.

``gen-jax bench --smoke`` and ``tests/bench/test_workloads.py`` run it. A training workload
passes when no step was skipped (``TrainState.skipped == 0``: the loss and every gradient were
finite), its parameters stay finite, and the steps changed them; a sampling workload passes
when its samples are finite; a metric workload (W7) when its values are finite and in range.
The compile benchmarks' code path is exercised by one compile of a 2-layer W2 flow.
"""

from __future__ import annotations

import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._metric_workloads import METRIC_WORKLOADS, check_metric_result
from ._workloads import WORKLOADS


def _all_finite(tree: Any) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(x)))) for x in jax.tree.leaves(tree)
               if jnp.issubdtype(np.asarray(x).dtype, jnp.inexact))


def smoke_workload(name: str, steps: int = 2, **sizes: Any) -> dict[str, Any]:
    """Builds workload ``name`` (at its standard size, or the ``sizes`` its builder takes,
    e.g. ``num`` and ``dim`` for W7) and runs ``steps`` calls; returns what was checked."""
    t0 = time.perf_counter()
    w = WORKLOADS[name](**sizes)
    carry = w.carry
    params = getattr(carry, "params", None)
    before = jax.device_get(params) if params is not None else None  # the state is donated
    for _ in range(steps):
        carry = w.call(carry)
    carry = jax.block_until_ready(carry)
    out: dict[str, Any] = {"workload": w.name, "steps": steps}
    if before is not None:
        after = jax.device_get(carry.params)
        changed = [not np.array_equal(a, b) for a, b in
                   zip(jax.tree.leaves(before), jax.tree.leaves(after), strict=True)]
        out["skipped_steps"] = int(np.asarray(jax.device_get(carry.skipped)))
        out["params_finite"] = _all_finite(after)
        out["params_changed"] = f"{sum(changed)}/{len(changed)} leaves"
        out["ok"] = out["skipped_steps"] == 0 and out["params_finite"] and any(changed)
    elif name in METRIC_WORKLOADS:
        out["values_valid"] = check_metric_result(name, carry)
        out["ok"] = out["values_valid"]
    else:
        out["samples_finite"] = _all_finite(carry)
        out["ok"] = out["samples_finite"]
    out["seconds"] = time.perf_counter() - t0
    out["loadavg"] = os.getloadavg()[0]
    return out


def smoke_compile() -> dict[str, Any]:
    """One compile of a 2-layer W2 flow through the compile benchmark's code."""
    from ._compile import compile_seconds
    from ._flow_workloads import W2_INFO, w2_config

    t = compile_seconds("nsf", w2_config(2), W2_INFO, 64, 1e-3)
    return {"workload": "compile benchmark (2-layer W2 flow)", "ok": t["total_s"] > 0,
            "seconds": t["total_s"], "loadavg": os.getloadavg()[0]}


def run_smoke(names: list[str] | None = None, steps: int = 2,
              compile_check: bool = True) -> dict[str, dict[str, Any]]:
    """Smoke-runs the named workloads (default: all registered), plus the compile check."""
    names = sorted(WORKLOADS) if names is None else names
    results = {name: smoke_workload(name, steps) for name in names}
    if compile_check:
        results["compile"] = smoke_compile()
    return results


def smoke_markdown(results: dict[str, dict[str, Any]]) -> str:
    """The smoke results as a markdown table."""
    lines = ["| workload | ok | checks | seconds |", "| --- | --- | --- | --- |"]
    for r in results.values():
        checks = ", ".join(f"{k}={v}" for k, v in r.items()
                           if k not in ("workload", "ok", "seconds", "loadavg"))
        lines.append(f"| {r['workload']} | {'yes' if r['ok'] else 'NO'} | {checks} | "
                     f"{r['seconds']:.1f} |")
    return "\n".join(lines) + "\n"
