"""The timing primitives every benchmark number goes through: results are waited for, the
first (compiling) call is kept out of the timed repeats, each workload's memory is its own,
and compare.py's verdict is gen_jax's rate over the fastest other library's."""

import importlib.util
import os
import sys
import time

import numpy as np
import pytest

from gen_jax.bench._harness import peak_rss_mb, source_revision, time_calls
from gen_jax.bench._run import time_in_subprocess
from tests.conftest import REPO


class Pending:
    """A step's result that is ready only ``delay`` seconds after it is waited for: a timer
    that does not wait for results would measure ~0."""

    def __init__(self, delay):
        self.delay = delay

    def block_until_ready(self):
        time.sleep(self.delay)
        return self


def test_time_calls_waits_for_each_repeats_result_and_times_the_first_call_apart():
    calls = []

    def step(carry):
        calls.append(carry)
        return Pending(0.05 if len(calls) == 1 else 0.02)  # the first call "compiles" longer

    timing = time_calls(step, None, repeats=4, warmup=2, calls_per_repeat=2)
    assert len(calls) == 1 + 2 + 4 * 2
    assert timing.compile_s >= 0.05
    # each repeat waits once on its last result: at least 0.02 s over 2 calls
    assert len(timing.step_s) == 4 and min(timing.step_s) >= 0.01
    assert timing.rate == pytest.approx(1 / timing.median_s)


def test_a_workloads_peak_memory_is_its_own_not_the_callers(tmp_path, monkeypatch):
    ballast = np.ones(2**28 // 8 * 4)  # 1 GiB held (and touched) by this process
    assert peak_rss_mb() > 1024
    # a gen_jax in the current folder is not the one the workload process imports
    (tmp_path / "gen_jax").mkdir()
    (tmp_path / "gen_jax" / "__init__.py").write_text("raise ImportError('the shadow copy')")
    monkeypatch.chdir(tmp_path)
    r = time_in_subprocess("w6-vae", repeats=1, warmup=0)
    assert r["baseline_rss_mb"] <= r["peak_rss_mb"] < 1024
    assert r["workload"] == "W6 sample vae-mlp-784" and r["per_second"] > 0
    del ballast


def test_a_failing_workload_process_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"time_workload\('w0', 1, 0\) failed in its "
                       r"process.*KeyError"):
        time_in_subprocess("w0", repeats=1, warmup=0)


def test_the_source_revision_is_this_checkouts_commit():
    rev = source_revision()
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    head = (REPO / ".git" / "HEAD").read_text().strip()
    ref = REPO / ".git" / head.removeprefix("ref: ") if head.startswith("ref: ") else None
    if ref is not None and not ref.exists():
        pytest.skip("packed refs")
    assert rev["commit"] == (ref.read_text().strip() if ref else head)
    assert isinstance(rev["dirty"], bool)


def test_a_copy_inside_another_repository_records_no_revision(tmp_path):
    """An installed gen_jax (site-packages inside some project's git repository) is not that
    project's commit."""
    import shutil
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-q", "--allow-empty", "-m", "another project"], check=True)
    site = tmp_path / "venv" / "site-packages"
    shutil.copytree(REPO / "gen_jax", site / "gen_jax")
    code = "from gen_jax.bench._harness import source_revision as s; print(s())"
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(site)}).stdout
    assert out.strip() == "None"


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("bench_compare", REPO / "benchmarks" /
                                                  "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_verdict_is_gen_jax_over_the_fastest_other_library(compare):
    res = {"gen_jax": {"per_second": 90.0}, "flowjax": {"per_second": 60.0},
           "nflows": {"per_second": 20.0}, "zuko": {"error": "ImportError: no zuko"}}
    s = compare.summarize("w2", res)
    assert s["fastest_other"] == "flowjax" and s["gen_jax_speedup"] == pytest.approx(1.5)
    assert s["target"] == 2.0 and not s["met"]  # W2's target is 2x
    assert compare.summarize("w4", {"gen_jax": {"per_second": 2.0},
                                    "torch": {"per_second": 1.0}})["met"]
    assert compare.summarize("w2", {"gen_jax": {"per_second": 1.0},
                                    "flowjax": {"error": "x"}}) is None


def test_interleaved_rounds_keep_each_librarys_first_call_out(compare):
    class Fake:
        items_per_call = 1

        def __init__(self, first, later):
            self.carry, self.n, self.first, self.later = None, 0, first, later

        def call(self, carry):
            self.n += 1
            return Pending(self.first if self.n == 1 else self.later)

    timed = compare.interleaved({"a": Fake(0.2, 0.01), "b": Fake(0.2, 0.03)}, repeats=3,
                                warmup=1, min_seconds=0.0)
    (a, _), (b, _) = timed["a"], timed["b"]
    assert a.compile_s >= 0.2 and b.compile_s >= 0.2
    assert len(a.step_s) == 3 and max(a.step_s) < 0.2  # the first call is not a repeat
    assert min(b.step_s) >= 0.03


class State:
    """A carried train state: ``calls`` steps so far, ``skipped`` of them by the guard."""

    def __init__(self, calls, skipped):
        self.calls, self.skipped = calls, np.int32(skipped)

    def block_until_ready(self):
        return self


def test_skipped_steps_are_refused_not_timed(compare):
    """A step whose loss or gradient is non-finite takes the guard's skip branch; timing it
    would time no training step (W2 at 8a45d7c)."""
    def step_skipping_after(n):
        return lambda s: State(s.calls + 1, s.skipped + (s.calls + 1 > n))

    time_calls(step_skipping_after(5), State(0, 0), repeats=3, warmup=1)  # 5 calls: none
    with pytest.raises(RuntimeError, match="2 of the 5 steps timed were skipped"):
        time_calls(step_skipping_after(3), State(0, 0), repeats=3, warmup=1)

    class Fake:
        items_per_call, carry = 1, State(0, 0)
        call = staticmethod(step_skipping_after(2))

    with pytest.raises(RuntimeError, match="1 of the 3 steps timed were skipped"):
        compare.interleaved({"gen_jax": Fake()}, repeats=1, warmup=1, min_seconds=0.0)
