"""Membership-inference audits: a model that memorized 32 digits gives its members away, two
sets it never saw look alike to it, the distance attack against a brute-force nearest
neighbour, and ``gen-jax audit`` end to end."""

import dataclasses
import json
import types

import numpy as np
import pytest

from gen_jax import cli
from gen_jax.apps import audit
from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.metrics import dataset_images
from gen_jax.models import VAEConfig
from gen_jax.train import load_run, load_split, train


@pytest.fixture(scope="module")
def memorizing_run(tmp_path_factory):
    """A VAE trained 400 steps on the first 32 training digits only: it memorizes them."""
    workdir = tmp_path_factory.mktemp("audit") / "vae"
    cfg = ExperimentConfig(
        model=VAEConfig(hidden=(128,), latent_dim=8),
        data=DataConfig(name="digits", batch_size=32, size=32),
        optim=OptimConfig(learning_rate=3e-3),
        train=TrainConfig(workdir=str(workdir), steps=400, progress=False, eval_every=10**6,
                          sample_every=10**6, checkpoint_every=10**6))
    train(cfg, "vae")
    return load_run(workdir)


def _halves(run):
    test = load_split(run.config, "test")
    h = len(test) // 2
    return [dataclasses.replace(test, x=test.x[i * h:(i + 1) * h],
                                label=test.label[i * h:(i + 1) * h]) for i in (0, 1)]


def test_members_of_a_memorizing_model_are_told_apart_and_unseen_sets_are_not(memorizing_run):
    found = audit.audit(memorizing_run, num=32, num_samples=256)
    assert found["num"] == 32 and found["members_from"] == "digits:train (first 32)"
    assert found["attacks"]["loss"]["auroc"] > 0.75
    assert found["attacks"]["distance"]["auroc"] > 0.75
    # Two held-out sets the model never saw (148 digits each): an attack is left guessing.
    samples = audit.draw_samples(memorizing_run, 256)
    a, b = _halves(memorizing_run)
    for attack in audit.ATTACKS:
        read = audit.read_attack(attack, "", *(audit.membership_scores(
            memorizing_run, ds, attack, samples=samples) for ds in (a, b)))
        assert abs(read.auroc - 0.5) < 0.12, (attack, read)


def test_distance_attack_is_minus_the_nearest_sample_distance(memorizing_run):
    samples = audit.draw_samples(memorizing_run, 50, seed=3)
    a, _ = _halves(memorizing_run)
    got = audit.membership_scores(memorizing_run, a, "distance", samples=samples)
    x = dataset_images(a).reshape(len(a), -1).astype(np.float64)
    s = samples.reshape(50, -1).astype(np.float64)
    want = -np.sqrt(((x[:, None] - s[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(got, want, atol=2e-5)
    with pytest.raises(ValueError, match="^unknown attack 'shadow'; use one or more of loss, "
                                         "distance$"):
        audit.audit(memorizing_run, attacks=("shadow",))
    # A family without a prior (an autoencoder) has no samples to measure distances to.
    assert audit.applicable_attacks(memorizing_run) == ("loss", "distance")
    assert audit.applicable_attacks(types.SimpleNamespace(model=object())) == ("loss",)


def test_audit_command_writes_json_and_markdown(memorizing_run, tmp_path, capsys):
    workdir = memorizing_run.config.train.workdir
    assert cli.main(["audit", "--workdir", workdir, "--num", "16", "--num-samples", "32",
                     "--out", str(tmp_path / "a.json")]) == 0
    report = json.loads((tmp_path / "a.json").read_text())
    assert report["model"] == "vae" and report["step"] == 400 and report["num"] == 16
    assert set(report["attacks"]) == {"loss", "distance"}
    for r in report["attacks"].values():
        assert 0 <= r["tpr_at_0_1pct_fpr"] <= r["tpr_at_1pct_fpr"] <= 1
    markdown = (tmp_path / "a.md").read_text()
    assert "| loss |" in markdown and "| distance |" in markdown
    capsys.readouterr()
    assert cli.main(["audit", "--workdir", workdir, "--num", "0"]) == 2
    err = capsys.readouterr().err
    assert "--num and --num-samples must be positive" in err and len(err.strip().splitlines()) == 1
