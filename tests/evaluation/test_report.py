"""``gen-jax eval``: the JSON + markdown report of a tiny digits VAE, the likelihood section of
every family, one-line errors, and the sample-quality metrics' sanity on constructed sets."""

import dataclasses
import json
import math
import re

import jax
import numpy as np
import pytest

from gen_jax import cli
from gen_jax import data as gdata
from gen_jax.classifier import train_classifier
from gen_jax.evaluation import classification_section, importance_nll, likelihood_section
from gen_jax.metrics import ClassifierConfig, extract_features
from gen_jax.metrics import sample_quality_from_features as quality
from gen_jax.provenance import config_digest
from gen_jax.train import load_run

from ..test_cli import SMALL


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("vae")
    assert cli.main(["train", "vae", *SMALL, "--train.workdir", str(workdir)]) == 0
    return workdir


@pytest.fixture(scope="module")
def classifiers(tmp_path_factory):
    """The digits classifier of the default architecture, trained for one epoch."""
    root = tmp_path_factory.mktemp("classifiers")
    train_classifier("digits", root, ClassifierConfig(epochs=1), progress=False)
    return root


def _eval(capsys, *args):
    code = cli.main(["eval", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _numbers(section):
    return [v for v in section.values() if isinstance(v, int | float) and not isinstance(v, bool)]


def test_report_has_likelihood_quality_and_images(vae_run, classifiers, capsys):
    code, out, err = _eval(capsys, "--workdir", vae_run, "--classifier-dir", classifiers,
                           "--importance-samples", 20, "--num-examples", 64, "--num-samples", 64)
    assert code == 0, err
    report = json.loads((vae_run / "eval_test.json").read_text())
    assert report["step"] == 30 and report["elbo"] < 0 and "nll_is20" in report  # as before
    lik, quality = report["likelihood"], report["sample_quality"]
    assert lik["kind"] == "bound" and lik["importance_samples"] == 20
    assert "elbo_bpd" not in lik  # a Bernoulli of 17 grey levels is no probability of the data
    for key in ("fd", "kid_mean", "precision", "recall", "density", "coverage",
                "classifier_score", "authenticity", "memorized_fraction"):
        assert key in quality, key
    assert all(math.isfinite(v) for v in _numbers(lik) + _numbers(quality))
    assert quality["num_samples"] == 64 and quality["num_reference"] == 64
    assert sum(quality["class_counts"]) == 64 and len(quality["closest_pairs"]) == 16
    assert report["settings"]["num_samples"] == 64 and report["versions"]["jax"] == jax.__version__
    assert report["date"] and report["command"].startswith("gen-jax eval --workdir")
    # The scale: the test images scored as samples against training images. Real data are
    # near what real data score (density about 1), far better than 30 steps of training.
    real = quality["real_data"]
    assert real["num_samples"] == 64 and real["num_reference"] == 64
    assert real["fd"] < quality["fd"] and 0.5 < real["density"] < 1.5
    assert "closest_pairs" not in real and math.isfinite(real["memorized_fraction"])
    # The terminal gets the sections as they start and a summary, not the whole JSON.
    assert "gen-jax eval: sample quality" in err and "importance-sampled NLL, 20 samples" in err
    summary = out.splitlines()
    assert summary[0] == "vae on digits, step 30, test split"
    fd_row = next(line for line in summary if line.strip().startswith("Frechet distance"))
    assert f"{quality['fd']:.6g}" in fd_row and f"{real['fd']:.6g}" in fd_row
    assert summary[-1] == (f"report: {vae_run / 'eval_test.json'}, {vae_run / 'eval_test.md'}, "
                           f"{vae_run / 'eval_test_card.md'}")

    page = (vae_run / "eval_test.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page)
    assert sorted(links) == ["eval_test_neighbours.png", "eval_test_samples.png"]
    assert all((vae_run / link).is_file() for link in links)
    assert "| Frechet distance |" in page and "| importance-sampled NLL |" in page
    assert "| metric | model | real data | |" in page
    assert "The real-data column is the scale" in page
    # The model card: what the run knows about itself, each number from another source.
    assert report["card"] == "eval_test_card.md" and "(eval_test_card.md)" in page
    run = load_run(vae_run)
    card, facts = (vae_run / "eval_test_card.md").read_text(), report["model_card"]
    count = sum(int(np.size(x)) for x in jax.tree.leaves(run.state.params))
    assert facts["model"]["parameters"] == count and f"{count:,} parameters" in card
    assert facts["model"]["config_sha256"] == config_digest(run.config)
    assert facts["training_data"]["examples"] == run.info.splits["train"]
    assert facts["training_data"]["labels_per_class"] is None  # every label, all labelled
    assert facts["training_data"]["learns_from_unlabelled"] is False
    assert "labels of" not in card
    assert f"| fd | {quality['fd']:.6g} |" in card and f"| elbo | {lik['elbo']:.6g} |" in card
    assert "Not stated by whoever trained it" in card
    assert any("toolkit's own digits classifier" in t for t in facts["limitations"])
    assert "- differential privacy: none" in card


def test_missing_classifier_without_training_it(vae_run, tmp_path, capsys):
    empty = tmp_path / "none"
    code, _, err = _eval(capsys, "--workdir", vae_run, "--classifier-dir", empty, "--quality",
                         "--num-examples", 32, "--no-train-classifier")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("gen-jax: error:"), err
    assert "gen-jax classifier train digits" in lines[0]

    # By default, a missing classifier skips the quality metrics with a note (the grid stays).
    out = tmp_path / "r.json"
    code, _, err = _eval(capsys, "--workdir", vae_run, "--classifier-dir", empty,
                         "--num-examples", 32, "--grid-size", 16, "--out", out,
                         "--no-train-classifier")
    assert code == 0 and "sample quality skipped" in err
    report = json.loads(out.read_text())
    assert "gen-jax classifier train digits" in report["sample_quality"]["skipped"]
    assert report["images"] == {"samples": "r_samples.png"}
    assert (tmp_path / "r_samples.png").is_file()
    assert "Skipped:" in (tmp_path / "r.md").read_text()

    # An audit in the run's folder and a stated use reach the card.
    assert cli.main(["audit", "--workdir", str(vae_run), "--num", "16", "--num-samples",
                     "16"]) == 0
    audit = json.loads((vae_run / "audit.json").read_text())["attacks"]
    code, _, err = _eval(capsys, "--workdir", vae_run, "--no-quality", "--num-examples", 16,
                         "--grid-size", 4, "--out", out, "--intended-use", "a test's card")
    assert code == 0, err
    card = (tmp_path / "r_card.md").read_text()
    assert "\n\na test's card\n\n" in card
    assert f"loss AUROC {audit['loss']['auroc']:.3f}" in card
    assert f"distance AUROC {audit['distance']['auroc']:.3f}" in card
    report = json.loads(out.read_text())
    assert report["command"].endswith("--intended-use 'a test'\"'\"'s card'")


@pytest.mark.parametrize("args, message", [
    (["--num-samples", "0"], "--num-samples must be positive"),
    (["--split", "validation"], "has no split 'validation'"),
    (["--no-quality", "--num-samples", "10"], "which --no-quality turns off"),
    (["--mode-samples", "100"], "'digits' has no known modes"),
])
def test_bad_settings_get_one_line_errors(vae_run, capsys, args, message):
    code, _, err = _eval(capsys, "--workdir", vae_run, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


def test_grid_larger_than_the_quality_samples_is_drawn_in_full(vae_run, classifiers, tmp_path,
                                                                capsys, monkeypatch):
    import gen_jax.train

    shapes = []
    save = gen_jax.train.save_samples
    monkeypatch.setattr(gen_jax.train, "save_samples",
                        lambda x, path, **kw: (shapes.append(x.shape), save(x, path, **kw)))
    code, _, err = _eval(capsys, "--workdir", vae_run, "--classifier-dir", classifiers,
                         "--num-examples", 8, "--num-samples", 8, "--grid-size", 16,
                         "--out", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert code == 0 and report["sample_quality"]["num_samples"] == 8, err
    assert shapes == [(16, 8, 8, 1)]


def _fresh_run(name, tmp_path, **model):
    """An untrained run of family ``name`` on digits (no checkpoint needed for the section)."""
    from gen_jax import models
    from gen_jax.config import ExperimentConfig, TrainConfig
    from gen_jax.train import build_run

    cfg = ExperimentConfig(model=dataclasses.replace(models.FAMILIES[name].config(), **model),
                           train=TrainConfig(workdir=str(tmp_path / name)))
    return build_run(cfg, name)[0]


def test_likelihood_section_of_each_family(tmp_path):
    from gen_jax.train import Evaluator

    flow = _fresh_run("realnvp", tmp_path, hidden=(16,), num_layers=2)
    means = Evaluator(flow, flow.config).evaluate(flow.state, 16)
    section = likelihood_section(flow, means)
    assert section["kind"] == "exact" and section["bpd"] == means["bpd"]
    assert section["nll"] == pytest.approx(section["bpd"] * 64 * math.log(2), rel=1e-5)
    assert "dequantization" in section["note"]
    with pytest.raises(ValueError, match="exact likelihood"):
        importance_nll(flow, flow.config, 10)

    vae = _fresh_run("vae", tmp_path, hidden=(16,), latent_dim=2, likelihood="logistic")
    section = likelihood_section(vae, {"elbo": -100.0}, {"nll_is10": 90.0,
                                                         "nll_is10_stderr": 1.0})
    assert section["elbo_bpd"] == pytest.approx(100 / (64 * math.log(2)))
    assert section["nll_is_bpd"] == pytest.approx(90 / (64 * math.log(2)))

    for name in ("gan", "ae"):
        run = _fresh_run(name, tmp_path)
        section = likelihood_section(run, {})
        assert section["kind"] == "none" and "likelihood" in section["note"], name
        assert classification_section(run, {"error": 0.5}, 10) is None  # no classifier

    m2 = _fresh_run("m2", tmp_path, hidden=(8,), classifier_hidden=(8,), latent_dim=2)
    section = likelihood_section(m2, {"elbo": -80.0, "error": 0.2})
    assert section["kind"] == "bound" and section["elbo"] == -80.0
    classes = classification_section(m2, {"elbo": -80.0, "error": 0.2}, 100)
    assert classes["accuracy"] == pytest.approx(0.8)
    assert classes["error_stderr"] == pytest.approx(0.04)  # sqrt(0.2 * 0.8 / 100)


def test_collapsed_samples_have_low_recall_and_coverage_but_high_precision(classifiers):
    """Against the digits test split: real training images score well everywhere; copies of a
    few training images of one class are precise but cover little."""
    from gen_jax.metrics import dataset_images, load_classifier

    classifier = load_classifier("digits", classifiers)
    test, train = (gdata.load("digits", split) for split in ("test", "train"))
    real, train_images = dataset_images(test), dataset_images(train)
    ones = train_images[train.label == 1][:10]
    rng = np.random.default_rng(0)
    collapsed = np.clip(ones[rng.integers(0, 10, 297)] + rng.normal(0, 0.02, (297, 8, 8, 1)), 0, 1)
    features = lambda x: extract_features(classifier, x)  # noqa: E731
    key = jax.random.PRNGKey(0)
    good = quality(features(real), features(train_images[:297]), key)
    bad = quality(features(real), features(collapsed), key)
    assert bad["recall"] < 0.2 < good["recall"] and bad["coverage"] < 0.3 < good["coverage"]
    assert bad["precision"] > 0.8 and good["precision"] > 0.8
    assert bad["fd"] > good["fd"] and bad["kid_mean"] > good["kid_mean"]


def test_evaluation_draws_depend_on_the_key_not_on_the_batching(tmp_path):
    """A flow's NLL on dequantized digits is a function of the data draws alone: with per-example
    draws it is the same at any batch size, and another key gives another dequantization."""
    from gen_jax.train import Evaluator

    flow = _fresh_run("realnvp", tmp_path, hidden=(16,), num_layers=2)
    key = jax.random.PRNGKey(5)

    def nll(batch_size, key):
        cfg = dataclasses.replace(flow.config, data=dataclasses.replace(
            flow.config.data, batch_size=batch_size))
        return Evaluator(flow, cfg).evaluate(flow.state, 40, key=key)["nll"]

    assert nll(7, key) == pytest.approx(nll(16, key), rel=1e-6)
    assert nll(16, key) != pytest.approx(nll(16, jax.random.PRNGKey(6)), rel=1e-6)


def test_each_example_is_preprocessed_alone_with_its_own_key():
    from gen_jax.config import DataConfig
    from gen_jax.train import make_preprocess, preprocess_examples

    info = gdata.DatasetInfo("digits", (8, 8, 1), 10, 17)
    preprocess = make_preprocess(info, DataConfig(binarize=True))
    x = np.random.default_rng(0).integers(0, 17, (20, 8, 8, 1)).astype(np.uint8)
    key = jax.random.PRNGKey(0)
    whole = preprocess_examples(preprocess, {"x": x}, np.arange(20), key)["x"]
    part = preprocess_examples(preprocess, {"x": x[12:]}, np.arange(12, 20), key)["x"]
    np.testing.assert_array_equal(whole[12:], part)
    assert set(np.unique(whole)) == {0.0, 1.0}
    # binarized with probability x / 16: the draws are not all alike across examples
    assert 0.2 < float(np.mean(np.asarray(whole) == (x / 16 > 0.5))) < 1.0


def test_a_continuous_flow_has_no_bits_per_dim(tmp_path):
    from gen_jax import models
    from gen_jax.config import DataConfig, ExperimentConfig, TrainConfig
    from gen_jax.train import build_run

    cfg = ExperimentConfig(model=dataclasses.replace(models.FAMILIES["realnvp"].config(),
                                                     hidden=(8,), num_layers=2),
                           data=DataConfig(name="ring8"), train=TrainConfig(workdir=str(tmp_path)))
    ring = build_run(cfg, "realnvp")[0]
    section = likelihood_section(ring, {"nll": 1.5, "bpd": 1.08})
    assert section == {"kind": "exact", "nll": 1.5, "note": section["note"]}
    assert "no bits/dim" in section["note"]
    from gen_jax.evaluation import EvalSettings, evaluate_run

    report = evaluate_run(ring, tmp_path, EvalSettings(num_examples=16, grid_size=4,
                                                        quality=False, mode_samples=100))
    written = json.loads((tmp_path / "eval_test.json").read_text())
    assert "bpd" not in report and "bpd" not in written and math.isfinite(written["nll"])


def test_a_report_is_strict_json_and_its_out_path_a_json_file(vae_run, tmp_path, capsys):
    out = tmp_path / "one.json"
    # the standard error of one example is undefined: null, not NaN
    code, _, err = _eval(capsys, "--workdir", vae_run, "--no-quality", "--num-examples", 1,
                         "--importance-samples", 3, "--grid-size", 4, "--out", out)
    assert code == 0, err
    report = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c))
    assert report["likelihood"]["nll_is_stderr"] is None and report["nll_is3_stderr"] is None
    assert report["ema_decay"] is None and "the trained parameters" in out.with_suffix(
        ".md").read_text()
    code, _, err = _eval(capsys, "--workdir", vae_run, "--out", tmp_path / "r.md")
    assert code == 2 and "must end in .json" in err and not (tmp_path / "r.md").exists()


def test_kid_subsets_are_real_subsets_so_their_spread_is_not_float_noise():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(20, 8)), rng.normal(0.5, 1.0, size=(20, 8))
    scores = quality(real, fake, jax.random.PRNGKey(0))
    assert scores["kid_subset_size"] == 10  # half of 20: subsets of the whole set never vary
    assert scores["kid_std"] > 1e-3 * abs(scores["kid_mean"]) > 0


def test_a_missing_classifier_is_trained_on_first_use_and_kept(vae_run, tmp_path, capsys):
    root = tmp_path / "fresh"
    code, _, err = _eval(capsys, "--workdir", vae_run, "--classifier-dir", root,
                         "--num-examples", 32, "--out", tmp_path / "a.json")
    assert code == 0, err
    assert f"no feature classifier of digits in {root}; training the default one now" in err
    report = json.loads((tmp_path / "a.json").read_text())
    record = report["sample_quality"]["classifier"]
    assert record["dataset"] == "digits" and record["path"].startswith(str(root))
    assert record["test_accuracy"] > 0.5  # a trained classifier, not a random one
    code, _, err = _eval(capsys, "--workdir", vae_run, "--classifier-dir", root,
                         "--num-examples", 32, "--out", tmp_path / "b.json")
    assert code == 0 and "training the default one" not in err  # kept: loaded, not retrained
    again = json.loads((tmp_path / "b.json").read_text())["sample_quality"]
    assert again["fd"] == report["sample_quality"]["fd"]


def test_quality_on_inception_features_caches_the_real_data(tmp_path, inception_weights,
                                                            monkeypatch):
    from gen_jax.config import DataConfig
    from gen_jax.evaluation import EvalSettings, evaluate_run

    monkeypatch.setenv("GEN_JAX_CACHE_DIR", str(tmp_path / "cache"))
    run = _fresh_run("vae", tmp_path, hidden=(8,), latent_dim=2)
    run.config = dataclasses.replace(run.config, data=DataConfig(size=8))
    settings = EvalSettings(num_examples=8, num_samples=8, grid_size=4, features="inception",
                            inception_weights=str(inception_weights))
    report = evaluate_run(run, tmp_path, settings)
    quality = report["sample_quality"]
    assert quality["inception"]["known_source"] and quality["inception"]["resize"] == "tf"
    assert quality["num_train"] == 8 and "classifier_score" not in quality
    assert quality["fd"] > quality["real_data"]["fd"] > 0  # untrained samples: far from data
    cached = sorted((tmp_path / "cache" / "inception_features").glob("*.npy"))
    assert len(cached) == 2  # the test and training images, not the samples
    assert "FID Inception network" in (tmp_path / "eval_test.md").read_text()
    with pytest.raises(ValueError, match="add --features inception"):
        EvalSettings(inception_resize="clean")


def test_a_translation_run_is_scored_by_the_target_domains_frozen_classifier(
        tmp_path, classifiers, capsys):
    workdir = tmp_path / "cyclegan"
    assert cli.main(["train", "cyclegan", "--data.name", "digits", "--data.target", "digits",
                     "--data.batch-size", "16", "--model.generator", "unet",
                     "--model.g-features", "4", "--model.depth", "1", "--model.d-features", "4",
                     "--model.d-layers", "1", "--train.steps", "2", "--train.no-progress",
                     "--train.workdir", str(workdir)]) == 0
    code, _, err = _eval(capsys, "--workdir", workdir, "--classifier-dir", classifiers,
                         "--grid-size", 8)
    assert code == 0, err
    report = json.loads((workdir / "eval_test.json").read_text())
    section = report["translation"]
    assert section["target"] == "digits" and section["num_examples"] == 297
    # digits beside digits: the untranslated images are the target's test split, so the
    # frozen classifier scores them as its own record says
    assert section["untranslated"]["accuracy"] == section["classifier_test_accuracy"]
    acc = section["translated"]["accuracy"]
    assert 0 <= acc <= 1 and section["translated"]["stderr"] == pytest.approx(
        (acc * (1 - acc) / 297) ** 0.5)
    assert report["images"] == {"translations": "eval_test_translations.png"}
    assert {"cycle_x", "cycle_y"} <= set(report)
    assert "## Translation to digits (test split, 297 examples)" in (
        workdir / "eval_test.md").read_text()
    card = (workdir / "eval_test_card.md").read_text()
    assert "- translated into digits, an unpaired collection of that domain" in card
    assert f"| translated_accuracy | {acc:.6g} |" in card and "| cycle_x |" in card
