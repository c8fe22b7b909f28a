"""gen-jax reconstruct and interpolate: the run's encoder at work, and the latent paths."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import cli, models
from gen_jax.apps.latent import interpolate, latent_path, reconstruct
from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.train import load_run, load_split, train


def _trained(workdir, family: str):
    config = models.FAMILIES[family].tiny()
    cfg = ExperimentConfig(model=config, data=DataConfig(name="digits", batch_size=16),
                           optim=OptimConfig(),
                           train=TrainConfig(workdir=str(workdir), steps=2, progress=False,
                                             eval_every=1000, sample_every=1000))
    train(cfg, family)
    return load_run(workdir)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    return _trained(tmp_path_factory.mktemp("vae"), "vae")


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory):
    return _trained(tmp_path_factory.mktemp("realnvp"), "realnvp")


def test_paths_start_and_end_at_the_points_and_slerp_keeps_the_norm():
    z0 = jnp.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    z1 = jnp.array([[0.0, 1.0], [2.0, 0.0], [2.0, 2.0]])  # the last pair is parallel
    t = jnp.linspace(0.0, 1.0, 5)
    for path in ("linear", "slerp"):
        p = latent_path(z0, z1, t, path)
        assert p.shape == (3, 5, 2)
        np.testing.assert_allclose(p[:, 0], z0, atol=1e-6)
        np.testing.assert_allclose(p[:, -1], z1, atol=1e-6)
    arc = latent_path(z0, z1, t, "slerp")
    np.testing.assert_allclose(jnp.linalg.norm(arc[0], axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(arc[0, 2], [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)
    np.testing.assert_allclose(arc[2], latent_path(z0, z1, t)[2], rtol=1e-6)  # parallel: line


def test_the_ends_of_a_vae_walk_are_the_reconstructions(vae_run):
    ds = load_split(vae_run.config, "test")
    walk = interpolate(vae_run, ds, pairs=3, steps=4, seed=1)
    assert walk.shape == (3, 4, 8, 8, 1)
    rows = np.random.default_rng(1).permutation(len(ds))[:6]
    x, recon = reconstruct(vae_run, ds, len(ds), seed=1)
    np.testing.assert_allclose(walk[:, 0], recon[rows[:3]], atol=1e-5)
    np.testing.assert_allclose(walk[:, -1], recon[rows[3:]], atol=1e-5)


def test_the_ends_of_a_flow_walk_are_the_examples_themselves(flow_run):
    ds = load_split(flow_run.config, "test")
    walk = interpolate(flow_run, ds, pairs=2, steps=3, seed=0)
    rows = np.random.default_rng(0).permutation(len(ds))[:4]
    key = jax.random.PRNGKey(0)  # the same data draws (dequantization) as the walk's
    from gen_jax.train import preprocess_examples
    x = preprocess_examples(flow_run.preprocess, {"x": ds.x[rows], "label": ds.label[rows]},
                            jnp.asarray(rows, jnp.int32), key)["x"]
    np.testing.assert_allclose(walk[:, 0], x[:2], atol=1e-4)
    np.testing.assert_allclose(walk[:, -1], x[2:], atol=1e-4)
    with pytest.raises(ValueError, match="realnvp has no reconstruction to show"):
        reconstruct(flow_run, ds, 4)


def test_the_commands_write_and_say_what(vae_run, capsys):
    workdir = vae_run.config.train.workdir
    assert cli.main(["reconstruct", "--workdir", workdir, "--num", "6"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["layout"] == "each example followed by its reconstruction"
    assert said["png"].endswith("reconstructions_test.png") and said["mean_squared_error"] > 0
    assert cli.main(["interpolate", "--workdir", workdir, "--pairs", "2", "--steps", "5",
                     "--path", "slerp"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["png"].endswith("interpolation_test_seed0.png") and said["path"] == "slerp"
    assert cli.main(["interpolate", "--workdir", workdir, "--pairs", "200"]) == 2
    assert "2 x pairs <= 297 examples" in capsys.readouterr().err
