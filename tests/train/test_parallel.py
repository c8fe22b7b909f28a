"""Data parallelism gives the same training as one device, up to float32 reduction order."""

import pytest

from ..conftest import run_cli, run_python
from ._ckpt_util import assert_trees_close, assert_trees_equal, latest_state

ARGS = ["train", "vae", "--data.name", "digits", "--data.batch-size", "64", "--data.binarize",
        "--train.steps", "8", "--train.checkpoint-every", "8", "--train.eval-every", "1000",
        "--train.sample-every", "1000", "--train.no-progress", "--model.hidden", "64",
        "--model.latent-dim", "8"]
ARGS_40 = [*ARGS[:ARGS.index("--train.steps")], "--train.steps", "40",
           *ARGS[ARGS.index("--train.steps") + 2:]]


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("one_device")
    run_cli([*ARGS, "--train.workdir", workdir], devices=1)
    return latest_state(workdir)


def test_jit_on_four_devices_matches_one(tmp_path, one_device):
    # Random draws are sharding-invariant under jit, so even the VAE's noise is the same.
    run_cli([*ARGS, "--train.workdir", tmp_path], devices=4)
    four = latest_state(tmp_path)
    assert int(four["step"]) == 8
    assert_trees_close(four["params"], one_device["params"], rtol=2e-4, atol=2e-5)


def test_pmap_on_four_devices_matches_jit_on_one(tmp_path):
    # pmap draws a separate noise stream per device, so compare on a deterministic model.
    args = ["train", "ae", "--data.name", "digits", "--data.batch-size", "64", "--train.steps",
            "8", "--train.checkpoint-every", "8", "--train.eval-every", "1000",
            "--train.sample-every", "1000", "--train.no-progress", "--model.hidden", "64",
            "--model.latent-dim", "8"]
    run_cli([*args, "--train.workdir", tmp_path / "jit1"], devices=1)
    run_cli([*args, "--train.workdir", tmp_path / "pmap4", "--train.strategy", "pmap"], devices=4)
    pmap4, jit1 = latest_state(tmp_path / "pmap4"), latest_state(tmp_path / "jit1")
    assert int(pmap4["step"]) == 8
    assert_trees_close(pmap4["params"], jit1["params"], rtol=2e-4, atol=2e-5)


def test_gan_on_four_devices_matches_one(tmp_path):
    # Two players, packing across the batch split, batch norm over the global batch, n_critic
    # and EMA: under jit the sharded step is the same program as on one device.
    args = ["train", "gan", "--data.name", "ring8", "--data.batch-size", "16", "--data.size",
            "512", "--model.latent-dim", "2", "--model.g-hidden", "16", "16", "--model.d-hidden",
            "16", "--model.d-maxout-pieces", "2", "--model.pac", "2", "--model.n-critic", "2",
            "--optim.learning-rate", "1e-3", "--optim.ema-decay", "0.9", "--train.steps", "8",
            "--train.checkpoint-every", "8", "--train.eval-every", "1000",
            "--train.sample-every", "1000", "--train.no-progress"]
    run_cli([*args, "--train.workdir", tmp_path / "one"], devices=1)
    run_cli([*args, "--train.workdir", tmp_path / "four"], devices=4)
    one, four = latest_state(tmp_path / "one"), latest_state(tmp_path / "four")
    assert int(four["step"]) == 8
    for part in ("params", "batch_stats", "ema_params", "opt_state"):
        assert_trees_close(four[part], one[part], rtol=2e-4, atol=2e-5)


def test_cyclegan_under_pmap_on_two_devices_matches_jit(tmp_path):
    # pmap runs every device's fakes through one image history (all-gathered), so both
    # discriminators see what the jitted step's global batch shows them.
    args = ["train", "cyclegan", "--data.name", "digits", "--data.target", "digits",
            "--data.batch-size", "8", "--model.generator", "unet", "--model.g-features", "4",
            "--model.depth", "1", "--model.d-features", "4", "--model.d-layers", "1",
            "--model.history", "6", "--train.steps", "4", "--train.checkpoint-every", "4",
            "--train.eval-every", "1000", "--train.sample-every", "1000", "--train.no-progress"]
    # both runs in one process (one start-up, one import)
    calls = [[*args, "--train.workdir", str(tmp_path / "jit")],
             [*args, "--train.workdir", str(tmp_path / "pmap"), "--train.strategy", "pmap"]]
    run_python("from gen_jax import cli\n" + "".join(
        f"assert cli.main({call!r}) == 0\n" for call in calls), devices=2)
    jit, pmap = latest_state(tmp_path / "jit"), latest_state(tmp_path / "pmap")
    assert int(pmap["batch_stats"]["history"]["y"]["count"]) == 6
    for part in ("params", "batch_stats", "opt_state"):
        assert_trees_close(pmap[part], jit[part], rtol=2e-4, atol=2e-5)


@pytest.mark.slow
def test_private_training_on_two_devices_matches_one(tmp_path):
    # DP-SGD sharded like any step: the Poisson batch's capacity (66 rows here, a multiple of
    # the device count either way) and the per-example keys are the same, so the runs agree to
    # float32 reduction order, and so does their epsilon. Slow (20 s): the DP step is the
    # engine's jit step, whose sharding the tests above cover.
    import json

    args = [*ARGS[:ARGS.index("--data.batch-size")], "--data.batch-size", "32",
            *ARGS[ARGS.index("--data.batch-size") + 2:], "--privacy.noise-multiplier", "1.0"]
    run_cli([*args, "--train.workdir", tmp_path / "one"], devices=1)
    run_cli([*args, "--train.workdir", tmp_path / "two"], devices=2)
    one, two = latest_state(tmp_path / "one"), latest_state(tmp_path / "two")
    assert int(two["step"]) == 8
    assert_trees_close(two["params"], one["params"], rtol=2e-4, atol=2e-5)
    spent = [json.loads((tmp_path / n / "final_metrics.json").read_text())["privacy/epsilon"]
             for n in ("one", "two")]
    assert spent[0] == spent[1] > 0


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """40 steps in two processes of two devices, with every 8th step's checkpoint kept: the
    reference of both multi-process tests (one launch instead of two)."""
    workdir = tmp_path_factory.mktemp("two_processes")
    run_cli(["launch", "-n", "2", "--", *ARGS_40, "--train.keep-checkpoints", "5",
             "--train.workdir", workdir], devices=2)
    return workdir


@pytest.mark.multiprocess
def test_two_processes_of_two_devices_match_one_of_four(tmp_path, two_processes):
    # The two-process run's step-8 checkpoint against 8 steps in one process of four devices
    # (a constant learning rate, so the longer run's first 8 steps are the same steps).
    run_cli([*ARGS, "--train.workdir", tmp_path], devices=4)
    multi_state, single_state = latest_state(two_processes, step=8), latest_state(tmp_path)
    assert int(multi_state["step"]) == int(single_state["step"]) == 8
    # Same global program and data; only the cross-process all-reduce (gloo) sums in another
    # order, which moves a few parameters by about one float32 ulp.
    for part in ("params", "opt_state"):
        assert_trees_close(multi_state[part], single_state[part], rtol=1e-5, atol=1e-8)
    assert int(multi_state["skipped"]) == int(single_state["skipped"]) == 0


@pytest.mark.multiprocess
def test_sigterm_in_two_processes_checkpoints_an_agreed_step_and_resumes(tmp_path,
                                                                         two_processes):
    import re

    args, stopped = ARGS_40, tmp_path / "stopped"
    # Both processes send themselves SIGTERM after step 5; JAX's preemption service makes them
    # agree on a later step (one past the furthest step any has reached when the notice has
    # gone round), where both checkpoint and stop.
    proc = run_cli(["launch", "-n", "2", "--", *args, "--train.workdir", stopped], devices=2,
                   check=False, env={"GEN_JAX_FAULT_TERM_AT_STEP": "5"})
    assert proc.returncode == 143, proc.stderr[-3000:]
    agreed = {int(n) for n in re.findall(r"stopped by SIGTERM after step (\d+)", proc.stderr)}
    assert len(agreed) == 1, proc.stderr[-3000:]  # every process names the same step
    step = agreed.pop()
    assert 5 < step < 40 and not (stopped / "final_metrics.json").exists()
    assert int(latest_state(stopped)["step"]) == step
    run_cli(["launch", "-n", "2", "--", *args, "--train.workdir", stopped], devices=2)
    a, b = latest_state(two_processes), latest_state(stopped)
    assert int(a["step"]) == int(b["step"]) == 40
    assert_trees_equal(a, b)


@pytest.mark.multiprocess
def test_a_dead_peer_ends_the_run_within_seconds_in_one_line_each(tmp_path):
    import re

    # Process 1 SIGKILLs itself after step 12; process 0 is then inside a collective.
    args = [*ARGS_40[:ARGS_40.index("--train.steps")], "--train.steps", "2000",
            *ARGS_40[ARGS_40.index("--train.steps") + 2:]]
    proc = run_cli(["launch", "-n", "2", "--", *args, "--train.workdir", tmp_path], devices=2,
                   check=False, timeout=300, env={"GEN_JAX_FAULT_KILL_AT_STEP": "12",
                                                  "GEN_JAX_FAULT_PROCESS": "1"})
    err = proc.stderr
    assert proc.returncode == 137, err[-3000:]
    assert "gen-jax launch: process 1 of 2 ended (killed by SIGKILL); stopping the others" in err
    # Process 0 either sees its collective fail (gloo: connection reset) and says so in one
    # line, or hangs in it until the launcher's SIGKILL after the grace period.
    assert re.search(r"gen-jax: error: process 0 of 2 lost its peers \(.*\); another process "
                     r"died", err) or "process 0 still running 5 s after SIGTERM; killing it" \
        in err, err[-3000:]
    assert "Traceback" not in err and "stack trace" not in err, err[-3000:]
    ended = float(re.search(r"every process ended ([\d.]+) s after the first failure",
                            err).group(1))
    assert ended < 10, err[-3000:]


def test_launch_kills_what_ignores_sigterm_after_the_grace_period(monkeypatch, capsys):
    import subprocess
    import sys
    import time

    from gen_jax.train import _distributed

    scripts = iter([
        "import os, signal, time; time.sleep(0.5); os.kill(os.getpid(), signal.SIGKILL)",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
    ])
    real_popen = subprocess.Popen
    monkeypatch.setattr(_distributed.subprocess, "Popen",
                        lambda cmd, env: real_popen([sys.executable, "-c", next(scripts)]))
    start = time.monotonic()
    code = _distributed.launch(2, ["train"], port=1, grace=1.0)
    assert code == 137 and time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert "process 0 of 2 ended (killed by SIGKILL); stopping the others" in err
    assert "process 1 still running 1 s after SIGTERM; killing it" in err
