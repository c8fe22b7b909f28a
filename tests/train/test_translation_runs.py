"""Translation runs through the engine: a pair of domains reaches the model's batches, a
CycleGAN run (two generators, two discriminators, their image histories, the target's own
stream) resumed from a checkpoint ends where an uninterrupted run does, and a pair that cannot
correspond is refused."""

import dataclasses

import numpy as np
import pytest

from gen_jax import data as gdata
from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.models import CycleGANConfig
from gen_jax.train import dataset_info, load_split, train

from ._ckpt_util import assert_trees_equal, latest_state


def _cfg(workdir, steps, **data):
    return ExperimentConfig(
        model=CycleGANConfig(generator="unet", g_features=4, depth=1, d_features=4,
                             d_layers=1, history=6),
        data=DataConfig(name="digits", target="digits", batch_size=8, **data),
        optim=OptimConfig(learning_rate=2e-4, b1=0.5, ema_decay=0.9),
        train=TrainConfig(workdir=str(workdir), steps=steps, progress=False, log_every=2,
                          eval_every=1000, sample_every=1000, checkpoint_every=2,
                          num_eval_examples=16))


def test_a_resumed_cyclegan_run_ends_where_an_uninterrupted_one_does(tmp_path):
    straight = train(_cfg(tmp_path / "straight", 4), "cyclegan")
    train(_cfg(tmp_path / "resumed", 2), "cyclegan")
    resumed = train(_cfg(tmp_path / "resumed", 4), "cyclegan")
    a, b = latest_state(tmp_path / "straight"), latest_state(tmp_path / "resumed")
    assert int(a["step"]) == 4
    assert set(a["params"]) == {"generator", "discriminator"}
    history = a["batch_stats"]["history"]
    assert int(history["x"]["count"]) == int(history["y"]["count"]) == 6  # 32 fakes seen
    assert_trees_equal(a, b)  # both players, their optimizers, histories, EMA, RNG
    assert straight == resumed and set(straight) >= {"cycle_x", "cycle_y"}


def test_the_pair_reaches_the_loader_and_evaluation(tmp_path):
    cfg = _cfg(tmp_path, 1, paired=True)
    info = dataset_info(cfg)
    assert info.target.name == "digits" and info.paired
    test = load_split(cfg, "test")
    np.testing.assert_array_equal(test.target.x, test.x)  # digits paired with themselves
    with gdata.Loader(load_split(cfg, "train"), 8, seed=0) as loader:
        batch = next(loader)
    np.testing.assert_array_equal(batch["y"], batch["x"])
    np.testing.assert_array_equal(batch["y_label"], batch["label"])


def test_domains_that_cannot_correspond_are_refused(tmp_path):
    cfg = dataclasses.replace(_cfg(tmp_path, 1), data=DataConfig(
        name="mnist", target="digits28", paired=True))
    with pytest.raises(gdata.DataError, match="cannot correspond example for example"):
        dataset_info(cfg)
    with pytest.raises(ValueError, match="set data.target too"):
        DataConfig(paired=True)
    with pytest.raises(ValueError, match="does not combine with data.classes"):
        DataConfig(target="digits", classes=(1, 2))


def test_your_own_paired_images_as_the_target(tmp_path):
    rng = np.random.default_rng(0)
    x = {s: rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8) for s, n in
         (("train", 40), ("test", 10))}
    y = {s: rng.integers(0, 10, len(v)) for s, v in x.items()}
    np.savez(tmp_path / "a.npz", x_train=x["train"], y_train=y["train"], x_test=x["test"],
             y_test=y["test"])
    np.savez(tmp_path / "b.npz", **{f"x_{s}": np.repeat(255 - v, 3, axis=-1)
                                    for s, v in x.items()},
             **{f"y_{s}": v for s, v in y.items()})
    cfg = dataclasses.replace(_cfg(tmp_path / "run", 1), data=DataConfig(
        path=str(tmp_path / "a.npz"), target=str(tmp_path / "b.npz"), paired=True,
        batch_size=8, tfds_dir=str(tmp_path / "tfds")))
    info = dataset_info(cfg)
    assert info.target.shape == (8, 8, 3) and info.paired
    for split in ("train", "test"):
        ds = load_split(cfg, split)
        np.testing.assert_array_equal(ds.target.x[..., :1], 255 - ds.x)  # each its inverse
