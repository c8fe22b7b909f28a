"""A GAN run (two players, two optimizer states, batch norm, EMA) killed with SIGKILL and
resumed through ``gen-jax train gan`` ends bit-identical to an uninterrupted run."""

import json

import pytest

from ..conftest import run_cli
from ._ckpt_util import assert_trees_equal, latest_state

ARGS = ["train", "gan", "--data.name", "ring8", "--data.batch-size", "16", "--data.size", "512",
        "--model.latent-dim", "2", "--model.g-hidden", "16", "16", "--model.d-hidden", "16",
        "--model.d-maxout-pieces", "2", "--model.pac", "2", "--model.n-critic", "2",
        "--model.d-learning-rate", "3e-3", "--optim.learning-rate", "1e-3",
        "--optim.ema-decay", "0.9", "--train.steps", "40", "--train.checkpoint-every", "20",
        "--train.log-every", "10", "--train.eval-every", "1000", "--train.sample-every", "1000",
        "--train.num-eval-examples", "64", "--train.no-progress"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("gan_straight")
    # Compiled afresh (not from the session's disk cache), as in test_resume.py.
    run_cli([*ARGS, "--train.workdir", workdir], env={"JAX_ENABLE_COMPILATION_CACHE": "false"})
    return workdir


def test_gan_sigkill_and_resume_is_bit_identical(tmp_path, straight):
    crashed = tmp_path / "crashed"
    killed = run_cli([*ARGS, "--train.workdir", crashed], check=False,
                     env={"GEN_JAX_FAULT_KILL_AT_STEP": "35"})
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (crashed / "final_metrics.json").exists()
    # The kill hook lets the step-20 save finish first, so the run below resumes from it
    # rather than training from scratch.
    assert [p.name for p in (crashed / "checkpoints").iterdir() if p.name.isdigit()] == ["20"]
    run_cli([*ARGS, "--train.workdir", crashed])
    a, b = latest_state(straight), latest_state(crashed)
    assert int(a["step"]) == 40
    assert set(a["opt_state"]) == {"generator", "discriminator"}
    assert set(a["batch_stats"]) == {"generator"}  # the generator's batch norm statistics
    assert_trees_equal(a, b)  # both players, both optimizers, EMA, BN stats, RNG, counters
    assert (json.loads((straight / "final_metrics.json").read_text())
            == json.loads((crashed / "final_metrics.json").read_text()))
    assert (straight / "samples.png").stat().st_size > 0

