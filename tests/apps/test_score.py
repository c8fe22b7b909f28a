"""``gen-jax score``: an application written against the public API only."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from gen_jax import cli, models
from gen_jax.config import DataConfig, ExperimentConfig, TrainConfig
from gen_jax.train import load_run, load_split, train


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("moons")
    cfg = ExperimentConfig(
        model=dataclasses.replace(models.FAMILIES["realnvp"].tiny()),
        data=DataConfig(name="two_moons", batch_size=32, size=256),
        train=TrainConfig(workdir=str(workdir), steps=5, progress=False, eval_every=1000,
                          sample_every=1000, checkpoint_every=1000, num_samples=4))
    train(cfg, "realnvp")
    return workdir


def test_scores_are_the_flows_negative_log_likelihood_at_any_batch_size(flow_run, capsys):
    assert cli.main(["score", "--workdir", str(flow_run), "--batch-size", "7",
                     "--num-examples", "20"]) == 0
    summary = json.loads(capsys.readouterr().out)
    scores = np.load(flow_run / "scores_test.npy")
    assert summary["num_examples"] == 20 and scores.shape == (20,)
    run = load_run(flow_run)
    x = load_split(run.config, "test").x[:20]
    log_p = jax.jit(run.model.log_prob)(run.state.variables(ema=True), x)
    np.testing.assert_allclose(scores, -np.asarray(log_p), rtol=1e-5)
    from gen_jax.apps.score import score_split

    np.testing.assert_allclose(score_split(run, num_examples=20, batch_size=64), scores,
                               rtol=1e-6)


def test_bad_input_is_one_line(flow_run, capsys):
    assert cli.main(["score", "--workdir", str(flow_run), "--split", "valid"]) == 2
    err = capsys.readouterr().err
    assert "has no split 'valid'" in err and err.count("\n") == 1
    assert cli.main(["score", "--workdir", str(flow_run), "--out", "x.txt"]) == 2
    assert "--out must name a .npy file" in capsys.readouterr().err
