"""Smoke mode of the benchmark harness: every registered workload runs and trains.

Each workload (built from the production models and steps) runs two steps; a training workload
must skip no step (finite loss and gradients), keep finite parameters and change them; a
sampling workload must return finite samples. The smoke runs use smaller batches (the same
code); the standard sizes are checked against BENCHMARKS.md's table below, so the harness cannot
drift from its definitions.
"""

import inspect

import pytest

from gen_jax.bench import WORKLOADS
from gen_jax.bench._flow_workloads import _w1_fwd_flops
from gen_jax.bench._smoke import smoke_compile, smoke_workload
from tests.conftest import run_cli


def test_every_benchmarks_md_workload_is_registered():
    for name in ("w1", "w2", "w3", "w4", "w5", "w6-flow", "w6-vae", "w7-fd", "w7-prdc", "w8",
                 "w8-sample", "w9"):
        assert name in WORKLOADS


def test_standard_sizes_are_benchmarks_mds():
    # BENCHMARKS.md's batch column: W1 256, W2 1024, W3 512, W4 128, W5 64, W6 1024 draws,
    # W7 10,000 x 2048, W8 128 (sampling 256, 50 DDIM steps), W9 512.
    want = {"w1": {"batch_size": 256}, "w2": {"batch_size": 1024}, "w3": {"batch_size": 512},
            "w4": {"batch_size": 128}, "w5": {"batch_size": 64}, "w6-flow": {"num": 1024},
            "w6-vae": {"num": 1024}, "w7-fd": {"num": 10000, "dim": 2048},
            "w7-prdc": {"num": 10000, "dim": 2048, "k": 5}, "w8": {"batch_size": 128},
            "w8-sample": {"num": 256, "steps": 50}, "w9": {"batch_size": 512}}
    for name, sizes in want.items():
        params = inspect.signature(WORKLOADS[name]).parameters
        assert {k: params[k].default for k in sizes} == sizes, name
    assert set(SMOKE_SIZES) <= set(want)


def test_w1_flops_match_benchmarks_md():
    # BENCHMARKS.md: W1 27.7 GFLOP per step (matmuls, forward + backward = 3x forward)
    assert 3 * _w1_fwd_flops(256) / 1e9 == pytest.approx(27.7, abs=0.05)


FULL_SIZE_ONLY_SLOW = {"w8", "w8-sample", "w9"}  # minutes on a CPU at full size: below, shrunk
SMOKE_SIZES = {"w1": {"batch_size": 32}, "w2": {"batch_size": 64}, "w3": {"batch_size": 64},
               "w4": {"batch_size": 16}, "w5": {"batch_size": 16}, "w6-flow": {"num": 64},
               "w6-vae": {"num": 64}, "w7-fd": {"num": 3000, "dim": 256},
               "w7-prdc": {"num": 3000, "dim": 256}}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)
                                  if n in FULL_SIZE_ONLY_SLOW else n for n in sorted(WORKLOADS)])
def test_workload_smoke(name):
    # The same code at smaller sizes (compiling and running the standard batches cost a
    # minute of the suite; W7's metrics at 10,000 x 2048 a minute of CPU per call, 3,000 x 256,
    # two tiles a side, a second). The full sizes are timed by gen-jax bench.
    result = smoke_workload(name, steps=2, **SMOKE_SIZES.get(name, {}))
    assert result["ok"], result


def test_w8_code_path_at_a_small_size():
    """W8's train step and DDIM sampling on a shrunken U-Net: the step trains, the sampler
    returns finite images, and XLA's FLOP count scales with the batch."""
    import jax
    import numpy as np

    from gen_jax.bench._diffusion_workloads import diffusion_unet_28, sample_ddim_unet_28

    small = dict(channels=4, channel_mult=(1,), num_res_blocks=1, attention_resolutions=(),
                 num_heads=1, num_groups=2)  # one resolution: the U-Net itself is tests/nn's
    w = diffusion_unet_28(batch_size=4, **small)
    before = jax.device_get(w.carry.params)
    carry = w.call(w.carry)
    assert int(carry.skipped) == 0 and w.matmul_flops > 0
    assert any(not np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(before), jax.tree.leaves(jax.device_get(carry.params)), strict=True))
    s = sample_ddim_unet_28(num=2, steps=3, **small)  # FLOPs: 3 steps of 2 images
    images = np.asarray(s.call(None))
    assert images.shape == (2, 28, 28, 1) and np.all((images >= 0) & (images <= 1))
    assert s.matmul_flops == pytest.approx(3 / 3 * 2 / 4 * w.matmul_flops, rel=0.2)


def test_w9_code_path_at_a_small_size():
    """W9's sequence-VAE step on shrunken layers: it trains, and the FLOP count follows the
    formula's batch scaling."""
    import jax

    from gen_jax.bench._molecule_workloads import molvae_w9

    small = dict(embed_dim=4, encoder_hidden=4, latent_dim=2, decoder_hidden=4, decoder_layers=1)
    w = molvae_w9(batch_size=4, **small)
    carry = jax.block_until_ready(w.call(w.carry))
    assert int(carry.skipped) == 0 and int(carry.step) == 1
    assert molvae_w9.__defaults__[0] == 512
    from gen_jax.bench._molecule_workloads import w9_flops
    from gen_jax.models import MolVAEConfig

    assert w9_flops(512, MolVAEConfig()) == pytest.approx(128 * w9_flops(4, MolVAEConfig()))


def test_compile_benchmark_smoke():
    assert smoke_compile()["ok"]


def test_cli_bench_smoke():
    proc = run_cli(["bench", "--smoke", "w6-vae"], timeout=300)
    assert "| W6 sample vae-mlp-784 | yes |" in proc.stdout


@pytest.mark.slow
def test_compare_script_runs_every_library():
    """benchmarks/compare.py on W2-W5, one round (needs the ``bench`` extra)."""
    import subprocess
    import sys

    from tests.conftest import REPO

    for pkg in ("flowjax", "torch", "nflows", "zuko", "normflows"):
        pytest.importorskip(pkg)
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "compare.py"), "w2", "w3",
                           "w4", "w5",
                           "--repeats", "1", "--warmup", "1", "--torch-threads", "1"],
                          capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "failed" not in proc.stdout
    for lib in ("gen_jax", "flowjax", "nflows", "zuko", "normflows", "torch"):
        assert f"| {lib} |" in proc.stdout


@pytest.mark.slow
def test_compare_script_runs_w7_against_prdc_and_scipy():
    import subprocess
    import sys

    from tests.conftest import REPO

    pytest.importorskip("prdc")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "compare.py"), "w7-fd",
                           "w7-prdc", "--repeats", "1", "--warmup", "0"],
                          capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "failed" not in proc.stdout
    for lib in ("gen_jax", "prdc", "scipy"):
        assert f"| {lib} |" in proc.stdout
