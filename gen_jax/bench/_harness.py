"""Timing primitives: median step time after compilation, compile time, peak matmul rate.

Every workload is timed on the production step (never a copy), with the inputs already on
device, and reported as the median over repeats, because these machines are shared and noisy.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall-clock statistics of one workload.

    Attributes:
      compile_s: first call (trace + compile + one execution), seconds; tables label it
        "first call".
      step_s: per-call seconds of every timed repeat.
      items_per_call: what one call processes (1 step, or N samples) for the rate.
    """

    compile_s: float
    step_s: tuple[float, ...]
    items_per_call: int = 1

    @property
    def median_s(self) -> float:
        return statistics.median(self.step_s)

    @property
    def rate(self) -> float:
        """Items (steps or samples) per second at the median."""
        return self.items_per_call / self.median_s

    def summary(self) -> dict[str, float]:
        return {
            "compile_s": self.compile_s,
            "median_s": self.median_s,
            "min_s": min(self.step_s),
            "max_s": max(self.step_s),
            "per_second": self.rate,
            "per_second_min": self.items_per_call / max(self.step_s),
            "per_second_max": self.items_per_call / min(self.step_s),
            "repeats": len(self.step_s),
        }


def time_calls(
    call: Callable[[Any], Any],
    carry: Any,
    *,
    repeats: int = 20,
    warmup: int = 3,
    calls_per_repeat: int = 1,
    items_per_call: int = 1,
) -> Timing:
    """Times ``carry = call(carry)`` (a step threading its state), blocking on every result.

    Args:
      call: one step; takes and returns the carried value (e.g. the train state), so donation
        and the real dependency chain between steps are kept.
      carry: the initial carried value.
      repeats: timed repeats (the median is reported).
      warmup: untimed calls after the first (compiling) one.
      calls_per_repeat: calls inside one timed repeat (for very short steps).
      items_per_call: items one call processes, for the rate.
    """
    t0 = time.perf_counter()
    carry = jax.block_until_ready(call(carry))
    compile_s = time.perf_counter() - t0
    for _ in range(warmup):
        carry = jax.block_until_ready(call(carry))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls_per_repeat):
            carry = call(carry)
        jax.block_until_ready(carry)
        times.append((time.perf_counter() - t0) / calls_per_repeat)
    check_trained(carry, 1 + warmup + repeats * calls_per_repeat)
    return Timing(compile_s, tuple(times), items_per_call)


def check_trained(carry: Any, calls: int) -> None:
    """Raises when a carried train state counts skipped steps (``TrainState.skipped``): a step
    with a non-finite loss or gradient takes the guard's skip branch, so its time is not that
    of a training step. Other carries pass."""
    skipped = getattr(carry, "skipped", None)
    if skipped is not None and (n := int(jax.device_get(skipped))):
        raise RuntimeError(f"{n} of the {calls} steps timed were skipped (non-finite loss or "
                           "gradient), so the timing is not of a training step; fix the "
                           "workload before timing it")


def peak_matmul_flops(n: int = 4096, repeats: int = 10, dtype=jnp.float32) -> float:
    """Measured FLOP/s of a large ``n x n`` matmul through jax on the default device (median)."""
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(k1, (n, n), dtype)
    b = jax.random.normal(k2, (n, n), dtype)
    mm = jax.jit(lambda a, b: a @ b)
    a = a / jnp.sqrt(jnp.asarray(n, dtype))  # a @ c keeps c's scale: no rescaling in the call
    timing = time_calls(lambda c: mm(a, c), b, repeats=repeats, warmup=1)
    return 2.0 * n**3 / timing.median_s


def step_flops(fn: Callable, *args) -> float | None:
    """FLOPs of one call of jitted ``fn`` from XLA's cost analysis (None when unavailable)."""
    try:
        cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    except Exception:  # cost analysis is best-effort on some backends
        return None
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else None
    return float(cost["flops"]) if cost and "flops" in cost else None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (host memory; CPU devices).

    On Linux, the ``VmHWM`` of ``/proc/self/status``: the high-water mark of this program's
    own address space. ``getrusage``'s ``ru_maxrss`` (the fallback elsewhere) survives
    ``fork`` + ``exec``, so a process started by a large parent reports the parent's size.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def device_peak_memory_mb() -> float | None:
    """Peak bytes in use on device 0 in MiB, where the backend reports it (GPU/TPU)."""
    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return None if peak is None else peak / 2**20


def compile_fresh() -> None:
    """Turns off XLA's on-disk compilation cache for this process, so compile times are real.

    With ``JAX_COMPILATION_CACHE_DIR`` set, the timed first calls and the compile benchmarks
    would otherwise load programs compiled by an earlier run. jax decides once per process,
    at its first compile, whether it uses the cache, so the bench entry points call this before
    anything compiles; :func:`environment` records the cache folder in use, if any.
    """
    jax.config.update("jax_enable_compilation_cache", False)


def environment() -> dict[str, Any]:
    """What the numbers were measured on: device, threads, package versions."""
    import importlib.metadata as md

    versions = {}
    for pkg in ("jax", "jaxlib", "flax", "optax", "distrax", "numpy"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return {
        "command": sys.argv,
        "source": source_revision(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "cpu_count": os.cpu_count(),
        "affinity_cores": (len(os.sched_getaffinity(0))
                           if hasattr(os, "sched_getaffinity") else None),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        # where compiled programs were loaded from instead of compiled (None: nowhere)
        "compilation_cache_dir": (jax.config.jax_compilation_cache_dir
                                  if jax.config.jax_enable_compilation_cache else None),
        "versions": versions,
    }


PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""The folder holding this ``gen_jax`` package (a checkout's top level, or site-packages)."""


def source_revision() -> dict[str, Any] | None:
    """The git commit of the gen_jax source that ran, and whether its tree had uncommitted
    changes (None outside a git checkout, e.g. an installed wheel)."""
    repo = PACKAGE_ROOT

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()

    try:
        if os.path.realpath(git("rev-parse", "--show-toplevel")) != os.path.realpath(repo):
            return None  # e.g. site-packages inside some other repository
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}
