"""Data parallelism gives the same training as one device, up to float32 reduction order."""

import pytest

from ..conftest import run_cli
from ._ckpt_util import assert_trees_close, assert_trees_equal, latest_state

ARGS = ["train", "vae", "--data.name", "digits", "--data.batch-size", "64", "--data.binarize",
        "--train.steps", "8", "--train.checkpoint-every", "8", "--train.eval-every", "1000",
        "--train.sample-every", "1000", "--train.no-progress", "--model.hidden", "64",
        "--model.latent-dim", "8"]


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("one_device")
    run_cli([*ARGS, "--train.workdir", workdir], devices=1)
    return latest_state(workdir)


@pytest.mark.parametrize("strategy", ["jit", "pmap"])
def test_four_devices_match_one(tmp_path, one_device, strategy):
    run_cli([*ARGS, "--train.workdir", tmp_path, "--train.strategy", strategy], devices=4)
    four = latest_state(tmp_path)
    assert int(four["step"]) == 8
    assert_trees_close(four["params"], one_device["params"], rtol=2e-4, atol=2e-5)


@pytest.mark.multiprocess
def test_two_processes_of_two_devices_match_one_of_four(tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    run_cli([*ARGS, "--train.workdir", single], devices=4)
    run_cli(["launch", "-n", "2", "--", *ARGS, "--train.workdir", multi], devices=2)
    assert_trees_equal(latest_state(multi)["params"], latest_state(single)["params"])
