"""Feature classifiers: the pure step, training + orbax round trip + versioning, load errors,
and the extractor protocol. Trains on scikit-learn's bundled 8x8 digits (no download)."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax import data as gdata
from gen_jax.classifier import make_classifier_step, train_classifier
from gen_jax.metrics import (
    Classifier,
    ClassifierConfig,
    ConvClassifier,
    FeatureExtractor,
    classifier_dir,
    extract_features,
    extract_logits,
    load_classifier,
    load_classifier_from,
    sample_quality,
)
from gen_jax.train import TrainState

TINY = ClassifierConfig(channels=(8, 16), kernel_size=3, features=16, epochs=8, batch_size=32,
                        train_size=512)


def test_the_step_is_pure_and_learns_a_fixed_batch():
    info = gdata.info("digits")
    ds = gdata.load("digits", "train", size=64)
    net = ConvClassifier(10, (8, 16), 16, 3)
    params = net.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))["params"]
    state = TrainState.create(params=params, tx=optax.adam(1e-2), rng=jax.random.PRNGKey(0))
    step = jax.jit(make_classifier_step(net, info))
    batch = {"x": ds.x, "label": ds.label}
    again, first = step(state, batch)
    repeat, same = step(state, batch)  # same inputs, same outputs: no hidden state
    np.testing.assert_array_equal(first["loss"], same["loss"])
    for _ in range(30):
        again, metrics = step(again, batch)
    assert float(metrics["loss"]) < 0.5 * float(first["loss"])
    assert int(again.step) == 31


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("classifiers")
    record = train_classifier("digits", workdir, TINY, progress=False)
    return workdir, record


def test_training_writes_a_versioned_checkpoint_with_its_record(trained):
    workdir, record = trained
    path = classifier_dir("digits", workdir, TINY)
    assert path.parent == workdir / "digits" and path.name == f"v1-{record['arch_hash']}"
    saved = json.loads((path / "classifier.json").read_text())
    assert saved == record
    assert saved["dataset"] == "digits" and saved["num_train"] == 512
    assert saved["architecture"]["channels"] == [8, 16]
    assert 0.5 < saved["test_accuracy"] <= 1.0  # chance is 0.1
    assert (path / "params").is_dir()
    # a different architecture lives in a different version folder
    assert classifier_dir("digits", workdir, ClassifierConfig()) != path


def test_loaded_classifier_reproduces_the_recorded_accuracy(trained):
    workdir, record = trained
    clf = load_classifier("digits", workdir, TINY)
    assert isinstance(clf, Classifier) and isinstance(clf, FeatureExtractor)
    test = gdata.load("digits", "test")
    images = np.asarray(gdata.preprocess(test.x, None, test.info))
    logits = extract_logits(clf, images, batch_size=100)  # 297 = 2 x 100 + 97: padded batch
    assert logits.shape == (297, 10)
    np.testing.assert_allclose(np.mean(logits.argmax(1) == test.label), record["test_accuracy"])
    feats = extract_features(clf, images, batch_size=100)
    assert feats.shape == (297, 16) and np.all(feats >= 0)  # ReLU features
    np.testing.assert_allclose(feats[:5], clf.features(images[:5]), rtol=1e-5, atol=1e-6)


def test_missing_or_mismatched_classifier_says_how_to_train_it(trained, tmp_path):
    workdir, _ = trained
    with pytest.raises(FileNotFoundError, match=r"gen-jax classifier train mnist") as info:
        load_classifier("mnist", tmp_path)
    assert "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"found only v1-.*other architectures"):
        load_classifier("digits", workdir)  # default architecture was never trained
    path = classifier_dir("digits", workdir, TINY)
    record = json.loads((path / "classifier.json").read_text())
    record["architecture"]["features"] = 32  # no longer matches its hash
    bad = tmp_path / "digits" / path.name
    bad.mkdir(parents=True)
    os.symlink(path / "params", bad / "params")
    (bad / "classifier.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"retrain it: gen-jax classifier train digits"):
        load_classifier_from(bad)


def test_sample_quality_flags_copied_training_images(trained):
    clf = load_classifier("digits", trained[0], TINY)
    info = gdata.info("digits")
    scale = lambda ds: np.asarray(gdata.preprocess(ds.x, None, info))  # noqa: E731
    train = scale(gdata.load("digits", "train", size=300))
    real = scale(gdata.load("digits", "test"))
    copies = train[:150]  # a "model" that reproduces its training data
    out = sample_quality(clf, real, copies, jax.random.key(0), train_images=train,
                         kid_subsets=4, num_pairs=3)
    assert out["memorized_fraction"] >= 0.95 and out["authenticity"] <= 0.05
    assert [p[2] for p in out["closest_pairs"]] == pytest.approx([0.0] * 3, abs=1e-3)
    assert sum(out["class_counts"]) == 150 and 1.0 < out["classifier_score"] <= 10.0
    assert {"fd", "kid_mean", "kid_std", "precision", "recall", "density", "coverage"} <= set(out)
    assert out["fd"] > 0 and 0.0 < out["precision"] <= 1.0


def test_wrong_image_shape_is_a_one_line_error(trained):
    clf = load_classifier("digits", trained[0], TINY)
    with pytest.raises(ValueError, match=r"takes \[N, 8, 8, 1\] images"):
        clf.features(np.zeros((2, 28, 28, 1), np.float32))


def test_a_user_extractor_plugs_in():
    class Flatten:
        def features(self, x):
            return jnp.reshape(x, (x.shape[0], -1))

    images = np.random.default_rng(0).uniform(size=(7, 2, 2, 1)).astype(np.float32)
    np.testing.assert_allclose(extract_features(Flatten(), images, batch_size=3),
                               images.reshape(7, 4))
    with pytest.raises(ValueError, match=r"has no logits"):
        extract_logits(Flatten(), images)


@pytest.mark.slow
@pytest.mark.parametrize("dataset, floor", [("mnist", 0.99), ("fashion_mnist", 0.90)])
def test_real_classifier_accuracy(dataset, floor, data_dir, tmp_path):
    record = train_classifier(dataset, tmp_path, data_dir=data_dir, progress=False)
    assert record["test_accuracy"] >= floor
