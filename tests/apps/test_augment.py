"""Generated data as training data: the labelled set reads back with its labels, counts and
provenance, the filters keep what they say, the classical augmentation is the affine map it
claims, every arm gets the same budget, the paired test is the textbook one, and bad input is
one line."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import stats

from gen_jax import cli, data, metrics, models
from gen_jax.apps.augment import (
    ClassicalAugment,
    EvaluateSettings,
    GenerateSettings,
    affine,
    evaluate_augmentation,
    generate_dataset,
    load_generated,
    make_filter,
    paired_test,
    save_generated,
)
from gen_jax.classifier import train_classifier
from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.train import load_run, load_split, train


def test_the_affine_map_shifts_and_rotates_exactly():
    import jax

    one = jax.jit(affine)
    image = np.random.default_rng(0).uniform(size=(7, 7, 2)).astype(np.float32)
    same = one(image, np.float32(0.0), np.float32(1.0), np.zeros(2, np.float32))
    np.testing.assert_allclose(same, image, atol=1e-6)
    down = one(image, np.float32(0.0), np.float32(1.0), np.array([1.0, 0.0], np.float32))
    np.testing.assert_allclose(down[1:], image[:-1], atol=1e-6)  # one row down, zeros in
    np.testing.assert_array_equal(down[0], 0.0)
    quarter = one(image, np.float32(np.pi / 2), np.float32(1.0), np.zeros(2, np.float32))
    np.testing.assert_allclose(quarter, np.rot90(image, k=1, axes=(0, 1)), atol=1e-5)
    batch = jax.jit(ClassicalAugment())(jax.random.PRNGKey(0), np.stack([image] * 3))
    assert batch.shape == (3, 7, 7, 2) and not np.allclose(batch[0], batch[1])
    with pytest.raises(ValueError, match="max_scale < 1"):
        ClassicalAugment(max_scale=1.0)


def test_the_paired_test_is_the_textbook_one():
    arm, base = np.array([0.91, 0.93, 0.90, 0.95]), np.array([0.90, 0.90, 0.91, 0.92])
    out = paired_test(arm, base)
    d = arm - base
    t = d.mean() / (d.std(ddof=1) / math.sqrt(4))
    assert out["t"] == pytest.approx(t)
    assert out["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), df=3))
    assert out["significant"] is (out["p_value"] < 0.05)
    one = paired_test(arm[:1], base[:1])
    assert one["p_value"] is None and one["mean_difference"] == pytest.approx(0.01)


@pytest.fixture(scope="module")
def digits(data_dir):
    return (data.load("digits", "train", data_dir=data_dir),
            data.load("digits", "test", data_dir=data_dir))


def test_the_arms_share_one_budget_and_shuffled_labels_teach_nothing(digits):
    real, test = digits
    x = np.clip(np.rint(real.x / 16.0 * 255), 0, 255).astype(np.uint8)  # as a generated set
    shuffled = np.random.default_rng(0).permutation(real.label)
    settings = EvaluateSettings(steps=60, batch_size=32, seeds=2, mix=0.25)
    report = evaluate_augmentation(real, test, settings, (x, shuffled))
    arms = report["arms"]
    assert list(arms) == ["real", "real+classical", "real+generated", "generated"]
    for row in arms.values():  # the equal-budget rule
        assert row["steps"] == [60, 60] and row["examples"] == [60 * 32] * 2
    assert arms["real+generated"]["generated_examples"] == [60 * 8] * 2
    assert arms["generated"]["generated_examples"] == [60 * 32] * 2
    assert min(arms["real"]["accuracy"]) > 0.8  # real labels teach the classifier...
    assert min(arms["real+classical"]["accuracy"]) > 0.7
    assert max(arms["generated"]["accuracy"]) < 0.3  # ...shuffled ones do not (CAS ~ chance)
    assert report["paired"]["generated"]["mean_difference"] < -0.5
    sub = evaluate_augmentation(real, test, dataclasses.replace(
        settings, arms=("real",), steps=2, seeds=1, labels_per_class=3), None)
    assert sub["real"]["num_train"] == 30 and sub["real"]["per_class"] == [3] * 10
    with pytest.raises(ValueError, match="need a generated data set"):
        evaluate_augmentation(real, test, settings)
    with pytest.raises(ValueError, match="examples of shape"):
        evaluate_augmentation(real, test, settings, (x[:, :4], shuffled))
    with pytest.raises(ValueError, match="--mix is the generated fraction"):
        EvaluateSettings(mix=1.0)


@pytest.fixture(scope="module")
def conditional_vae(tmp_path_factory):
    """A 2-step class-conditional VAE on digits, trained on 5 labels per class."""
    workdir = tmp_path_factory.mktemp("augment") / "vae"
    cfg = ExperimentConfig(
        model=dataclasses.replace(models.FAMILIES["vae"].tiny(), conditional=True),
        data=DataConfig(name="digits", batch_size=16, labels_per_class=5, labels_seed=3),
        optim=OptimConfig(), train=TrainConfig(workdir=str(workdir), steps=2, progress=False,
                                               eval_every=1000, sample_every=1000))
    train(cfg, "vae")
    return workdir


def test_a_run_on_scarce_labels_trains_on_the_labelled_subset(conditional_vae):
    cfg = load_run(conditional_vae).config
    train_split = load_split(cfg, "train")
    assert len(train_split) == 50 and np.bincount(train_split.label).tolist() == [5] * 10
    full = load_split(dataclasses.replace(cfg, data=dataclasses.replace(
        cfg.data, labels_per_class=None)), "train")
    rows = data.labelled_subset(full.label, 5, 3)
    np.testing.assert_array_equal(train_split.x, full.x[rows])
    held = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, holdout_fraction=0.2))
    kept, holdout = load_split(held, "train"), load_split(held, "holdout")
    assert len(kept) + len(holdout) == 50  # the holdout comes from the labelled pool
    pool = {x.tobytes() for x in train_split.x}
    assert all(x.tobytes() in pool for x in holdout.x)
    assert len(load_split(cfg, "test")) == len(load_split(held, "test"))  # test untouched


def test_a_generated_set_reads_back_with_its_labels_counts_and_provenance(
        conditional_vae, tmp_path, capsys):
    run = load_run(conditional_vae)
    made = generate_dataset(run, GenerateSettings(counts=(2, 0, 3, 1, 1, 1, 1, 1, 1, 4)))
    assert made.x.dtype == np.uint8 and made.x.shape == (15, 8, 8, 1)
    assert np.bincount(made.y, minlength=10).tolist() == [2, 0, 3, 1, 1, 1, 1, 1, 1, 4]
    assert made.record["source"]["step"] == 2 and made.record["source"]["model"] == "vae"
    assert made.record["data"]["labels_per_class"] == 5
    path = save_generated(made, tmp_path / "gen.npz")
    back = load_generated(path)
    np.testing.assert_array_equal(back.x, made.x)
    assert back.record["file"] == "gen.npz"
    own = data.open_own(path, data.OwnOptions(test_fraction=0.2), tfds_dir=tmp_path / "tfds")
    read = np.concatenate([data.load_own(own, s).label for s in ("train", "test")])
    assert sorted(read.tolist()) == sorted(made.y.tolist())  # --data.path reads it back
    # the command line, and its one-line errors
    out = tmp_path / "cli.npz"
    assert cli.main(["augment", "generate", "--workdir", str(conditional_vae), "--per-class",
                     "2", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == [2] * 10
    for args, message in [
        (["generate", "--workdir", str(conditional_vae), "--counts", "1,2", "--out",
          str(out)], "--counts has 2 entries, the run has 10 classes"),
        (["generate", "--workdir", str(conditional_vae), "--per-class", "2", "--temperature",
          "0.5", "--out", str(out)], "vae has no sampling temperature"),
        (["evaluate", "--generated", str(tmp_path / "none.npz"), "--out", str(tmp_path / "r")],
         "no generated data set at"),
    ]:
        assert cli.main(["augment", *args]) == 2
        assert message in capsys.readouterr().err


def test_the_filters_keep_what_they_say(conditional_vae, tmp_path):
    import jax

    root = tmp_path / "classifiers"
    train_classifier("digits", root, progress=False)
    classifier = metrics.load_classifier("digits", root)
    run = load_run(conditional_vae)
    test = load_split(run.config, "test")
    images = metrics.dataset_images(test)[:200]
    labels = test.label[:200]
    confident = make_filter(run, GenerateSettings(per_class=1, filter="confidence",
                                                  min_confidence=0.5), root)
    probs = np.asarray(jax.nn.softmax(metrics.extract_logits(classifier, images), -1))
    for y in (labels, (labels + 1) % 10):  # true labels kept, wrong ones dropped
        np.testing.assert_array_equal(confident(images, y), probs[np.arange(200), y] >= 0.5)
    assert confident(images, labels).mean() > 0.8 > 0.2 > confident(images, (labels + 1) % 10
                                                                      ).mean()
    manifold = make_filter(run, GenerateSettings(per_class=1, filter="knn", k=3), root)
    train_split = load_split(run.config, "train")  # its 5 labelled examples per class
    assert manifold(metrics.dataset_images(train_split), train_split.label).all()
    assert manifold(np.ones((20, 8, 8, 1), np.float32), np.arange(20) % 10).mean() < 0.5
    with pytest.raises(ValueError, match="class 0 has 5"):
        make_filter(run, GenerateSettings(per_class=1, filter="knn", k=5), root)


def test_the_draws_go_on_until_every_class_has_its_count(conditional_vae):
    run = load_run(conditional_vae)
    bright = lambda x, y: x.reshape(len(x), -1).mean(axis=1) > np.median(  # noqa: E731
        x.reshape(len(x), -1).mean(axis=1))  # keeps about half of every round
    made = generate_dataset(run, GenerateSettings(per_class=4, seed=2), keep=bright)
    assert np.bincount(made.y).tolist() == [4] * 10 and made.record["settings"]["own_filter"]
    assert min(made.record["drawn"]) >= 4 and sum(made.record["drawn"]) > 40
    assert made.record["acceptance"] == [round(4 / d, 4) for d in made.record["drawn"]]
    with pytest.raises(ValueError, match="kept 0 of 8 samples of class 0 .* --max-draws 2"):
        generate_dataset(run, GenerateSettings(per_class=4, max_draws=2),
                         keep=lambda x, y: np.zeros(len(y), bool))


def test_an_unconditional_run_is_refused_in_one_line():
    from types import SimpleNamespace

    from gen_jax.apps.augment._generate import check_run
    from gen_jax.data import DatasetInfo

    digits = DatasetInfo("digits", (8, 8, 1), 10, 17)
    vae = models.build("vae", models.FAMILIES["vae"].tiny(), digits)
    run = SimpleNamespace(model=vae, model_name="vae", config=SimpleNamespace(
        train=SimpleNamespace(workdir="runs/x")))
    with pytest.raises(ValueError, match="is not class-conditional"):
        check_run(run)
