"""Compile-time benchmarks: a deep flow against a shallow one, and scanned against unrolled Glow.

BENCHMARKS.md's target: a 32-layer flow compiles within 1.5x of a 4-layer one. Compile time
here is trace + lowering + XLA compilation of the production train step (``make_train_step``
under ``JitStrategy.compile``), without executing it, on an abstract (``jax.eval_shape``)
state so that nothing is allocated; the median over fresh compiles, with ``jax.clear_caches()``
before each one.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..config import DataConfig, OptimConfig
from ..data import DatasetInfo
from ..models import GlowConfig, build
from ..train import JitStrategy, TrainState, make_optimizer, make_preprocess, make_train_step
from ._flow_workloads import W1_INFO, W2_INFO, flow_setup, w1_config, w2_config
from ._harness import time_calls

GLOW_INFO = DatasetInfo(name="glow_mnist_size", shape=(28, 28, 1), num_classes=0,
                        num_levels=256)


def glow_config(num_layers: int = 8, scan_unroll: int = 1) -> GlowConfig:
    """A conv Glow for 28x28x1: 2 levels of ``num_layers`` steps, 128-channel conditioners."""
    return GlowConfig(num_layers=num_layers, hidden=(128,), num_levels=2,
                      scan_unroll=scan_unroll)


def _host_x(info: DatasetInfo, batch: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if info.is_discrete:
        return rng.integers(0, info.num_levels, (batch, *info.shape), dtype=np.uint8)
    return rng.standard_normal((batch, *info.shape)).astype(np.float32)


def compile_seconds(family: str, cfg: Any, info: DatasetInfo, batch_size: int,
                    learning_rate: float) -> dict[str, float]:
    """Trace+lower and compile seconds of a freshly built production train step."""
    jax.clear_caches()
    model = build(family, cfg, info)
    preprocess = make_preprocess(info, DataConfig(name=info.name), model)
    strategy = JitStrategy()
    tx = make_optimizer(OptimConfig(optimizer="adam", learning_rate=learning_rate), 1)
    x0 = _host_x(info, 2)

    def make_state():
        key = jax.random.PRNGKey(0)
        variables = model.init(key, preprocess({"x": jnp.asarray(x0)}, key))
        return TrainState.create(params=variables["params"], tx=tx, rng=key)

    state = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=strategy.replicated),
        jax.eval_shape(make_state))
    x = jax.ShapeDtypeStruct((batch_size, *info.shape), x0.dtype,
                             sharding=strategy.data_sharding)
    step = strategy.compile(make_train_step(model, preprocess), state)
    t0 = time.perf_counter()
    lowered = step.lower(state, {"x": x})
    t1 = time.perf_counter()
    lowered.compile()
    t2 = time.perf_counter()
    return {"trace_s": t1 - t0, "compile_s": t2 - t1, "total_s": t2 - t0}


def _summarize(runs: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    out["total_s_all"] = [r["total_s"] for r in runs]
    return out


def _median_compile(make: Callable[[], dict[str, float]], repeats: int) -> dict[str, Any]:
    return _summarize([make() for _ in range(repeats)])


def depth_ratio(family: str, make_cfg: Callable[[int], Any], info: DatasetInfo,
                batch_size: int, learning_rate: float, *, shallow: int = 4, deep: int = 32,
                repeats: int = 3) -> dict[str, Any]:
    """Median compile time of a ``deep``- and a ``shallow``-layer flow, and their ratio."""
    load_before = os.getloadavg()
    layers = {"shallow": shallow, "deep": deep}

    def once(name: str) -> dict[str, float]:
        return compile_seconds(family, make_cfg(layers[name]), info, batch_size, learning_rate)

    once("shallow")  # untimed: the process's first compile pays one-time costs
    runs: dict[str, list[dict[str, float]]] = {"shallow": [], "deep": []}
    for _ in range(repeats):  # interleaved, so that a change of load hits both alike
        for name in runs:
            runs[name].append(once(name))
    res = {name: {"num_layers": layers[name], **_summarize(r)} for name, r in runs.items()}
    ratio = res["deep"]["total_s"] / res["shallow"]["total_s"]
    return {**res, "ratio": ratio, "target": 1.5, "met": ratio <= 1.5,
            "loadavg": [load_before, os.getloadavg()]}


def compile_w1(repeats: int = 3) -> dict[str, Any]:
    """W1-style flow (1024-wide affine couplings on 784-d, batch 256): 32 vs 4 layers."""
    return {"what": "realnvp 784-d, 392-1024-1024-784 conditioners, batch 256, scan_unroll=1",
            **depth_ratio("realnvp", lambda n: w1_config(n), W1_INFO, 256, 1e-4,
                          repeats=repeats)}


def compile_w2(repeats: int = 3) -> dict[str, Any]:
    """W2-style flow (K=8 spline couplings on 2-d, batch 1024): 32 vs 4 layers."""
    return {"what": "nsf 2-d, 1-128-128-23 conditioners, batch 1024, scan_unroll=1",
            **depth_ratio("nsf", lambda n: w2_config(n), W2_INFO, 1024, 1e-3, repeats=repeats)}


def compile_glow(repeats: int = 3, num_layers: int = 8, batch_size: int = 64,
                 step_repeats: int = 5) -> dict[str, Any]:
    """Conv Glow on 28x28x1 (uint8, dequantized): ``scan_unroll=1`` against a full unroll.

    Reports compile time (median of fresh compiles) and the train step's median time of each.
    """
    out: dict[str, Any] = {
        "what": f"glow 28x28x1, 2 levels x {num_layers} steps, 128 channels, batch "
                f"{batch_size}, Adam 1e-3; scan_unroll 1 vs {num_layers}",
        "loadavg_before": os.getloadavg()}
    for name, unroll in (("unroll_1", 1), ("unroll_full", num_layers)):
        cfg = glow_config(num_layers, unroll)
        res = _median_compile(lambda c=cfg: compile_seconds("glow", c, GLOW_INFO, batch_size,
                                                            1e-3), repeats)
        if step_repeats:
            s = flow_setup("glow", cfg, GLOW_INFO, batch_size, 1e-3,
                           host_x=_host_x(GLOW_INFO, batch_size))
            t = time_calls(lambda st, s=s: s.step(st, s.batch)[0], s.state,
                           repeats=step_repeats, warmup=1)
            res["step_median_s"] = t.median_s
            res["step_first_call_s"] = t.compile_s
            del s
        out[name] = {"scan_unroll": unroll, **res}
    out["compile_ratio_full_over_scan"] = (out["unroll_full"]["total_s"]
                                           / out["unroll_1"]["total_s"])
    if step_repeats:
        out["step_ratio_scan_over_full"] = (out["unroll_1"]["step_median_s"]
                                            / out["unroll_full"]["step_median_s"])
    out["loadavg_after"] = os.getloadavg()
    return out


COMPILE_BENCHMARKS: dict[str, Callable[..., dict[str, Any]]] = {
    "compile-w1": compile_w1,
    "compile-w2": compile_w2,
    "compile-glow": compile_glow,
}
"""Compile benchmark id -> function(repeats=...) returning a JSON-ready dict."""


def run_compile_benchmarks(names: list[str], *, repeats: int = 3,
                           **kwargs: Any) -> dict[str, Any]:
    """Runs the named compile benchmarks (keyword arguments go to every one that takes them)."""
    out = {}
    for name in names:
        fn = COMPILE_BENCHMARKS[name]
        params = fn.__code__.co_varnames[: fn.__code__.co_argcount]
        out[name] = fn(repeats=repeats, **{k: v for k, v in kwargs.items() if k in params})
    return out


def compile_markdown(results: dict[str, Any]) -> str:
    """The compile benchmarks as markdown tables."""
    lines = []
    depth = {k: v for k, v in results.items() if "ratio" in v}
    if depth:
        lines += ["Compile time (trace + lower + XLA compile of the production train step; "
                  "median of fresh compiles):", "",
                  "| benchmark | 4 layers s | 32 layers s | ratio | target <= 1.5x | load |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for name, r in depth.items():
            lines.append(
                f"| {name}: {r['what']} | {r['shallow']['total_s']:.2f} | "
                f"{r['deep']['total_s']:.2f} | {r['ratio']:.2f}x | "
                f"{'met' if r['met'] else 'missed'} | {r['loadavg'][0][0]:.1f} |")
        lines.append("")
    for name, r in results.items():
        if "unroll_1" not in r:
            continue
        a, b = r["unroll_1"], r["unroll_full"]
        lines += [f"{name}: {r['what']}", "",
                  "| scan_unroll | compile s | step s (median) | first call s |",
                  "| --- | --- | --- | --- |"]
        for row in (a, b):
            lines.append(f"| {row['scan_unroll']} | {row['total_s']:.2f} | "
                         f"{row.get('step_median_s', float('nan')):.3f} | "
                         f"{row.get('step_first_call_s', float('nan')):.2f} |")
        lines.append(f"\n(load {r['loadavg_before'][0]:.1f} -> {r['loadavg_after'][0]:.1f})\n")
    return "\n".join(lines) + "\n"

