"""A run killed with SIGKILL and resumed ends bit-identical to an uninterrupted run."""

import json

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
    run_cli([*ARGS, "--train.workdir", workdir])
    return workdir


# Checkpoints are saved asynchronously every 20 steps; a kill at step 40 lands while that save
# is in flight, at 55 after it has probably finished. The resume starts from 20 or 40 (whichever
# save was complete), and either way must end exactly where the uninterrupted run did.
@pytest.mark.parametrize("kill_at, resumable", [(40, {20, 40}), (55, {20, 40})])
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
    clock = {"time", "train/steps_per_sec", "train/data_wait_ms"}

    def records(workdir):
        lines = (workdir / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k not in clock} for line in lines]

    assert records(straight) == records(crashed)


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
