"""A run killed with SIGKILL, or stopped by SIGTERM, and resumed ends bit-identical to an
uninterrupted run."""

import json
import shutil

import pytest

from ..conftest import run_cli
from ._ckpt_util import assert_trees_equal, latest_state

ARGS = ["train", "vae", "--data.name", "digits", "--data.batch-size", "32", "--data.binarize",
        "--train.steps", "60", "--train.checkpoint-every", "20", "--train.log-every", "10",
        "--train.eval-every", "1000", "--train.sample-every", "1000", "--train.no-progress",
        "--optim.ema-decay", "0.9", "--model.hidden", "32", "--model.latent-dim", "4"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("straight")
    # Compiled afresh, not from the session's disk cache, so that the resumed runs (which may
    # load each other's programs) are compared with programs compiled on their own.
    run_cli([*ARGS, "--train.workdir", workdir], env={"JAX_ENABLE_COMPILATION_CACHE": "false"})
    return workdir


# Checkpoints are saved asynchronously every 20 steps, and the kill hook lets earlier saves
# finish first: a kill at step 40 lands while that step's save is in flight (the resume starts
# from 20 or 40), one at 55 after it. Either way the run must end exactly where the
# uninterrupted run did.
@pytest.mark.parametrize("kill_at, resumable", [(40, {20, 40}), (55, {40})])
def test_sigkill_and_resume_is_bit_identical(tmp_path, straight, kill_at, resumable):
    crashed = tmp_path / "crashed"
    killed = run_cli([*ARGS, "--train.workdir", crashed], check=False,
                     env={"GEN_JAX_FAULT_KILL_AT_STEP": str(kill_at)})
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (crashed / "final_metrics.json").exists()
    complete = [int(p.name) for p in (crashed / "checkpoints").iterdir() if p.name.isdigit()]
    assert max(complete) in resumable

    run_cli([*ARGS, "--train.workdir", crashed])
    a, b = latest_state(straight), latest_state(crashed)
    assert int(a["step"]) == 60
    assert_trees_equal(a, b)  # params, optimizer, EMA, RNG, counters
    assert (json.loads((straight / "final_metrics.json").read_text())
            == json.loads((crashed / "final_metrics.json").read_text()))
    # The logs read as one run: same steps, same values (wall-clock measurements aside).
    assert _records(straight) == _records(crashed)


def _records(workdir):
    clock = {"time", "train/steps_per_sec", "train/data_wait_ms"}
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in clock} for line in lines]


def test_a_run_killed_after_its_last_save_writes_its_final_metrics_again(tmp_path, straight):
    # The final evaluation is logged before the last checkpoint is saved, so a run killed
    # after that save has it in its log; the same command again writes final_metrics.json
    # (the same numbers) and logs nothing twice.
    copy = tmp_path / "copy"
    shutil.copytree(straight, copy)
    (copy / "final_metrics.json").unlink()
    run_cli([*ARGS, "--train.workdir", copy])
    assert (json.loads((copy / "final_metrics.json").read_text())
            == json.loads((straight / "final_metrics.json").read_text()))
    assert _records(copy) == _records(straight)  # the final evaluation once, at step 60


def test_sigterm_checkpoints_the_step_in_flight_and_resumes_bit_identical(tmp_path, straight):
    stopped = tmp_path / "stopped"
    # Step 45 is neither a checkpoint (every 20) nor a log step (every 10).
    proc = run_cli([*ARGS, "--train.workdir", stopped], check=False,
                   env={"GEN_JAX_FAULT_TERM_AT_STEP": "45"})
    assert proc.returncode == 143, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        f"gen-jax: stopped by SIGTERM after step 45, checkpoint saved in "
        f"{stopped / 'checkpoints'}; run the same command again to resume")
    assert not (stopped / "final_metrics.json").exists()
    assert max(int(p.name) for p in (stopped / "checkpoints").iterdir() if p.name.isdigit()) == 45
    assert int(latest_state(stopped)["step"]) == 45
    # The partial log window (steps 41-45) is written, not lost.
    last = json.loads((stopped / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 45 and last["train/steps"] == 5

    run_cli([*ARGS, "--train.workdir", stopped])
    assert_trees_equal(latest_state(straight), latest_state(stopped))
    assert (json.loads((straight / "final_metrics.json").read_text())
            == json.loads((stopped / "final_metrics.json").read_text()))


def test_ctrl_c_checkpoints_the_step_in_flight_exits_130_and_resumes_bit_identical(tmp_path,
                                                                                  straight):
    stopped = tmp_path / "interrupted"
    proc = run_cli([*ARGS, "--train.workdir", stopped], check=False,
                   env={"GEN_JAX_FAULT_INT_AT_STEP": "45"})
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        f"gen-jax: stopped by SIGINT after step 45, checkpoint saved in "
        f"{stopped / 'checkpoints'}; run the same command again to resume")
    assert "Traceback" not in proc.stderr and int(latest_state(stopped)["step"]) == 45
    resumed = run_cli([*ARGS, "--train.workdir", stopped])
    assert f"resumed from step 45 ({stopped / 'checkpoints'})" in resumed.stderr
    assert_trees_equal(latest_state(straight), latest_state(stopped))


def test_sigterm_handler_is_restored_and_a_second_signal_acts_as_before():
    import signal

    from gen_jax.train import StopOnSignal

    seen = []

    def outer(*_):
        seen.append("outer")

    previous = signal.signal(signal.SIGTERM, outer)
    try:
        with StopOnSignal() as stop:  # no signal: the outer handler is back afterwards
            assert signal.getsignal(signal.SIGTERM) != outer
        assert not stop.requested and signal.getsignal(signal.SIGTERM) == outer
        with StopOnSignal() as stop:
            signal.raise_signal(signal.SIGTERM)
            assert stop.requested and seen == []
            signal.raise_signal(signal.SIGTERM)  # the first notice is taken; the next goes on
            assert seen == ["outer"]
        assert signal.getsignal(signal.SIGTERM) == outer
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_no_resume_over_existing_checkpoints_is_refused(tmp_path, straight):
    proc = run_cli([*ARGS, "--train.workdir", straight, "--train.no-resume"], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"gen-jax: error: {straight / 'checkpoints'} holds checkpoints up to step 60")


def test_resume_with_another_architecture_is_a_one_line_error(tmp_path, straight):
    proc = run_cli([*ARGS, "--train.workdir", straight, "--model.latent-dim", "5"], check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert "does not fit this model/optimizer config (first difference at " in last
    assert last.endswith("the run was trained with other settings: model.latent_dim 4 -> 5"), last


def test_an_incomplete_checkpoint_folder_is_a_one_line_error_not_a_settings_change(tmp_path,
                                                                                  straight):
    copy = tmp_path / "copy"
    shutil.copytree(straight, copy)
    (copy / "checkpoints" / "80" / "state").mkdir(parents=True)  # a copy that stopped early
    proc = run_cli([*ARGS, "--train.workdir", copy, "--model.latent-dim", "5"], check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        f"gen-jax: error: {copy / 'checkpoints' / '80'} is not a complete checkpoint (its state "
        "or data is missing or unreadable; a copy or save that did not finish?): move it out of "
        f"{copy / 'checkpoints'} to resume from step 60")


def test_resuming_with_more_steps_warns_when_the_schedule_is_stretched(tmp_path, capsys):
    # A cosine schedule is sized by train.steps: resuming a 20-step run as a 30-step one
    # recomputes it, so the learning rate jumps back up; the run says so and how to avoid it.
    # (In this process, not in subprocesses: the messages are the point, not a fresh start.)
    from gen_jax import cli

    args = [*ARGS, "--train.workdir", str(tmp_path / "run"), "--optim.schedule", "cosine"]
    assert cli.main([*args, "--train.steps", "20"]) == 0
    capsys.readouterr()
    assert cli.main([*args, "--train.steps", "30"]) == 0
    longer = capsys.readouterr().err
    assert ("resuming a run whose cosine learning-rate schedule decays over 20 steps with "
            "train.steps=30: the schedule is recomputed" in longer), longer[-2000:]
    assert "pass --optim.decay_steps 20 to keep the old schedule" in longer
    # The 30-step run decayed over 30 steps: pinning that length keeps its schedule and is not
    # a change of settings; the learning rate is, and is the only one named.
    assert cli.main([*args, "--train.steps", "40", "--optim.decay-steps", "30",
                     "--optim.learning-rate", "0.0005"]) == 0
    lower = capsys.readouterr().err
    assert "schedule is recomputed" not in lower
    assert (f"resuming {tmp_path / 'run'} at step 30 with settings that differ from the ones "
            "it was trained with: optim.learning_rate 0.001 -> 0.0005; training goes on with "
            "the new ones" in lower), lower[-2000:]
    assert int(latest_state(tmp_path / "run")["step"]) == 40


def test_exit_code_of_turns_preempted_into_one_line_and_143(capsys):
    from gen_jax.train import Preempted, exit_code_of

    def preempted():
        raise Preempted(7, "/runs/x/checkpoints")

    assert exit_code_of(lambda: 3, "prog") == 3
    assert exit_code_of(preempted, "prog") == 143
    err = capsys.readouterr().err
    assert err == ("prog: stopped by SIGTERM after step 7, checkpoint saved in "
                   "/runs/x/checkpoints; run the same command again to resume\n")


def test_ctrl_c_is_taken_once_then_interrupts_as_before(capsys):
    import signal

    from gen_jax.train import Preempted, StopOnSignal, exit_code_of

    # The handler in place before (whatever the test process had: a pytest-xdist worker may
    # have its own) is the one a second Ctrl-C reaches, and the one left afterwards.
    calls = []

    def previous(signum, frame):
        calls.append(signum)

    original = signal.signal(signal.SIGINT, previous)
    try:
        with StopOnSignal() as stop:
            signal.raise_signal(signal.SIGINT)
            assert stop.requested and stop.signum == signal.SIGINT and not calls
            signal.raise_signal(signal.SIGINT)  # the second Ctrl-C: the previous handler
            assert calls == [signal.SIGINT]
        assert signal.getsignal(signal.SIGINT) is previous
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own, as a shell has
        with StopOnSignal() as stop:
            signal.raise_signal(signal.SIGINT)
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, original)

    def interrupted():
        raise Preempted(7, "/runs/x/checkpoints", signal.SIGINT)

    assert exit_code_of(interrupted, "prog") == 130
    assert capsys.readouterr().err == ("prog: stopped by SIGINT after step 7, checkpoint saved "
                                       "in /runs/x/checkpoints; run the same command again to "
                                       "resume\n")
