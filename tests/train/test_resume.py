"""A run killed with SIGKILL and resumed ends bit-identical to an uninterrupted run."""

import json

from ..conftest import run_cli
from ._ckpt_util import assert_trees_equal, latest_state

ARGS = ["train", "vae", "--data.name", "digits", "--data.batch-size", "32", "--data.binarize",
        "--train.steps", "60", "--train.checkpoint-every", "20", "--train.log-every", "10",
        "--train.eval-every", "1000", "--train.sample-every", "1000", "--train.no-progress",
        "--optim.ema-decay", "0.9", "--model.hidden", "32", "--model.latent-dim", "4"]


def test_sigkill_and_resume_is_bit_identical(tmp_path):
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    run_cli([*ARGS, "--train.workdir", straight])

    # Killed at step 47: the last complete checkpoint is step 40, 7 steps of work are lost.
    killed = run_cli([*ARGS, "--train.workdir", crashed], check=False,
                     env={"GEN_JAX_FAULT_KILL_AT_STEP": "47"})
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (crashed / "final_metrics.json").exists()
    assert max(int(p.name) for p in (crashed / "checkpoints").iterdir()
               if p.name.isdigit()) == 40

    run_cli([*ARGS, "--train.workdir", crashed])
    assert_trees_equal(latest_state(straight), latest_state(crashed))
    a = json.loads((straight / "final_metrics.json").read_text())
    b = json.loads((crashed / "final_metrics.json").read_text())
    assert a == b
