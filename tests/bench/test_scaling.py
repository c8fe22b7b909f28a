"""Device scaling (``gen-jax bench --scaling``): the workload really runs on 1, 2, ... devices."""

import json

import pytest

from gen_jax.bench._scaling import run_scaling, scaling_points
from tests.conftest import run_cli


@pytest.mark.slow  # about 30 s: four real (uncached) compiles of W4 in a child process
def test_cli_scaling_reruns_itself_with_forced_cpu_devices(tmp_path):
    # The test process has one CPU device; the command re-runs in a child with two.
    out = tmp_path / "scaling.json"
    run_cli(["bench", "w4", "--scaling", "1", "2", "--per-device-batch", "8", "--repeats", "2",
             "--warmup", "0", "--out", out], timeout=600)
    (report,) = json.loads(out.read_text())["scaling"]
    points = {(p["mode"], p["devices"]): p for p in report["points"]}
    assert set(points) == {("weak", 1), ("weak", 2), ("strong", 1), ("strong", 2)}
    for (mode, n), p in points.items():
        assert p["mesh_devices"] == n  # the state is replicated over exactly n devices
        assert p["global_batch"] == (8 * n if mode == "weak" else 16)
        assert p["examples_per_s"] == pytest.approx(p["global_batch"] * p["per_second"])
    assert points["weak", 1]["speedup"] == 1.0 and points["strong", 1]["efficiency"] == 1.0
    assert report["fake_cpu_devices"] is True
    # The test session sets JAX_COMPILATION_CACHE_DIR; the bench compiles for real regardless.
    assert report["environment"]["compilation_cache_dir"] is None
    assert "| weak | 2 | 16 |" in out.with_suffix(".md").read_text()


def test_more_devices_than_exist_in_process_is_a_clear_error():
    with pytest.raises(ValueError, match="2 devices asked but this process has 1"):
        scaling_points("w4", [1, 2], 8)


@pytest.mark.parametrize("call, match", [
    (lambda: scaling_points("w2", [1], 8), "must be one of"),
    (lambda: run_scaling("w4", [0, 1], 8), "device counts must be >= 1"),
])
def test_bad_scaling_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
