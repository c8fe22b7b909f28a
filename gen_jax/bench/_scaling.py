"""Device scaling: one training workload on 1, 2, 4, ... devices, with its measured efficiency.

The workload is the production step under ``JitStrategy`` with a ``data`` mesh over the first
``n`` devices (the batch split across them, parameters replicated, gradients all-reduced by
XLA), timed like every other workload.

* weak scaling: ``per_device_batch`` rows on every device (global batch ``n * b``);
* strong scaling: a fixed global batch ``n_max * b`` split over ``n`` devices.

Efficiency compares the examples per second on ``n`` devices with what the hardware allows:
``(examples/s on n) / (examples/s on 1) / parallel_units``, where ``parallel_units`` is ``n`` for
distinct accelerators and 1 for CPU devices forced with
``--xla_force_host_platform_device_count`` (they share the same cores, so adding one adds no
compute: an efficiency of 1 there means sharding, partitioning and the all-reduce cost nothing).
On a CPU host that exposes fewer devices than asked, ``gen-jax bench --scaling`` re-runs itself
in a child process with that flag set.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from typing import Any

import jax

from .._xla_flags import with_host_device_count
from ._harness import environment, time_calls

SCALING_WORKLOADS = ("w1", "w4", "w5")
"""Training workloads that take ``batch_size`` and ``devices`` (W1, W4, W5)."""

DEFAULT_PER_DEVICE_BATCH = {"w1": 64, "w4": 128, "w5": 64}


def _constructor(name: str):
    from ._flow_workloads import flow_realnvp_784
    from ._workloads import dcgan_28, vae_mlp_784

    return {"w1": flow_realnvp_784, "w4": vae_mlp_784, "w5": dcgan_28}[name]


def _fake_cpu_devices() -> bool:
    return jax.default_backend() == "cpu"


def scaling_points(name: str, device_counts: list[int], per_device_batch: int, *,
                   repeats: int = 20, warmup: int = 3) -> dict[str, Any]:
    """Times workload ``name`` on the first ``n`` devices for each ``n`` (weak and strong).

    Needs ``max(device_counts)`` devices in this process. Returns a JSON-ready report.
    """
    check_scaling_args(name, device_counts, per_device_batch)
    n_max = max(device_counts)
    if jax.device_count() < n_max:
        raise ValueError(f"{n_max} devices asked but this process has {jax.device_count()}; "
                         "on CPU set XLA_FLAGS=--xla_force_host_platform_device_count=N")
    make = _constructor(name)
    devices = jax.devices()
    parallel_units = {n: (1 if _fake_cpu_devices() else n) for n in device_counts}
    points = []
    for mode in ("weak", "strong"):
        for n in device_counts:
            batch = n * per_device_batch if mode == "weak" else n_max * per_device_batch
            if batch % n:
                continue
            w = make(batch_size=batch, devices=devices[:n])
            used = len(jax.tree.leaves(w.carry)[0].sharding.device_set)
            t = time_calls(w.call, w.carry, repeats=repeats, warmup=warmup)
            points.append({"mode": mode, "devices": n, "mesh_devices": used,
                           "global_batch": batch,
                           "examples_per_s": batch * t.rate, **t.summary(),
                           "loadavg": os.getloadavg()[0]})
            del w
    for p in points:
        base = next(q for q in points if q["mode"] == p["mode"] and q["devices"] == min(
            device_counts))
        speedup = p["examples_per_s"] / base["examples_per_s"]
        p["speedup"] = speedup
        p["efficiency"] = speedup / (parallel_units[p["devices"]] / parallel_units[
            base["devices"]])
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "workload": name, "per_device_batch": per_device_batch,
        "fake_cpu_devices": _fake_cpu_devices(), "environment": environment(),
        "points": points,
    }


def check_scaling_args(name: str, device_counts: list[int], per_device_batch: int | None) -> None:
    """One-line ``ValueError`` for an unknown workload, a device count or batch below 1."""
    if name not in SCALING_WORKLOADS:
        raise ValueError(f"scaling workload must be one of {SCALING_WORKLOADS}, got {name!r}")
    if not device_counts or any(n < 1 for n in device_counts):
        raise ValueError(f"device counts must be >= 1, got {device_counts}")
    if per_device_batch is not None and per_device_batch < 1:
        raise ValueError(f"the per-device batch must be >= 1, got {per_device_batch}")


def run_scaling(name: str, device_counts: list[int], per_device_batch: int | None = None, *,
                repeats: int = 20, warmup: int = 3) -> dict[str, Any]:
    """:func:`scaling_points` here, or in a child process with enough forced CPU devices."""
    check_scaling_args(name, device_counts, per_device_batch)  # before spawning a child
    per_device_batch = per_device_batch or DEFAULT_PER_DEVICE_BATCH[name]
    n_max = max(device_counts)
    if jax.device_count() >= n_max:
        return scaling_points(name, device_counts, per_device_batch, repeats=repeats,
                              warmup=warmup)
    if jax.default_backend() != "cpu":
        raise ValueError(f"{n_max} devices asked but only {jax.device_count()} "
                         f"{jax.default_backend()} devices exist; ask for at most that many")
    env = dict(os.environ)
    env["XLA_FLAGS"] = with_host_device_count(env.get("XLA_FLAGS", ""), n_max)
    if not jax.config.jax_enable_compilation_cache:  # compile_fresh() holds in the child too
        env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    code = ("import json, sys; from gen_jax.bench._scaling import scaling_points; "
            f"print(json.dumps(scaling_points({name!r}, {list(device_counts)!r}, "
            f"{per_device_batch}, repeats={repeats}, warmup={warmup})))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=False)
    if proc.returncode:
        raise RuntimeError(f"scaling child process failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def scaling_markdown(report: dict[str, Any]) -> str:
    """The scaling report as a markdown table."""
    kind = ("forced CPU devices sharing the host's cores (efficiency: examples/s relative to "
            "1 device, ideal 1.0)" if report["fake_cpu_devices"] else
            "accelerators (efficiency: speedup / device count, ideal 1.0)")
    lines = [f"Device scaling of {report['workload']} measured {report['date']} on "
             f"{report['environment']['affinity_cores']} cores, {kind}; per-device batch "
             f"{report['per_device_batch']} (weak), fixed global batch (strong).", "",
             "| mode | devices | global batch | steps/s (median) | min - max | examples/s | "
             "speedup | efficiency | load |", "| --- | --- | --- | --- | --- | --- | --- | --- | "
             "--- |"]
    for p in report["points"]:
        lines.append(f"| {p['mode']} | {p['devices']} | {p['global_batch']} | "
                     f"{p['per_second']:.2f} | {p['per_second_min']:.2f} - "
                     f"{p['per_second_max']:.2f} | {p['examples_per_s']:.0f} | "
                     f"{p['speedup']:.2f}x | {p['efficiency']:.2f} | {p['loadavg']:.1f} |")
    return "\n".join(lines) + "\n"
