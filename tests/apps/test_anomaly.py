"""gen-jax anomaly: fit -> score -> report on an image folder and on a table, the families'
scores on planted outliers, the threshold rules, and the one-line errors."""

from __future__ import annotations

import csv
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from gen_jax import cli
from gen_jax.apps.anomaly import load_detector
from gen_jax.apps.score import score_examples
from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.data import ArrayDataset
from gen_jax.models import FAMILIES
from gen_jax.train import load_run, train


def _images(root, rng):
    """Normal: dark, smooth; anomalous: bright speckle. Folders train/ and test/."""
    for split, counts in (("train", {"normal": 60, "odd": 4}), ("test", {"normal": 20,
                                                                         "odd": 10})):
        for cls, n in counts.items():
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                if cls == "normal":
                    im = np.clip(rng.normal(60, 10, (8, 8)), 0, 255)
                else:
                    im = rng.choice([0, 255], (8, 8))
                Image.fromarray(im.astype(np.uint8)).save(root / split / cls / f"{i}.png")
    return root


def _run(capsys, *argv):
    code = cli.main(list(map(str, argv)))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_fit_score_report_on_an_image_folder(tmp_path, capsys):
    folder = _images(tmp_path / "imgs", np.random.default_rng(0))
    run = tmp_path / "run"
    # Classes sort as normal (0), odd (1): train on the normal class, threshold at 5% FPR on
    # held-out normal images.
    fitted = _run(capsys, "anomaly", "fit", "vae", "--normal-classes", 0, "--fpr", 0.05,
                  "--data.path", folder, "--data.tfds-dir", tmp_path / "tfds",
                  "--data.batch-size", 16, "--model.hidden", 32, "--model.latent-dim", 4,
                  "--train.steps", 300, "--train.workdir", run, "--train.no-progress")
    detector = load_detector(run)
    assert detector.normal_classes == (0,) and detector.rule == "fpr"
    held = detector.calibration["num_examples"]
    assert detector.calibration["split"] == "holdout" and held == 6  # 10% of 60 normal images
    assert detector.calibration["flagged"] <= math.floor(0.05 * held)
    assert fitted["threshold"] == detector.threshold
    said = _run(capsys, "anomaly", "score", "--workdir", run)
    with open(said["scores"]) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 30 and sum(int(r["anomalous"]) for r in rows) == 10
    assert said["flagged"] == sum(int(r["flagged"]) for r in rows)
    report = _run(capsys, "anomaly", "report", "--workdir", run)
    assert report["auroc"] > 0.95  # speckle against smooth dark images
    files = json.loads((run / "anomaly_report_test.json").read_text())["files"]
    assert {files["roc"], files["most"], files["least"]} <= {p.name for p in run.iterdir()}
    page = (run / "anomaly_report_test.md").read_text()
    assert "| AUROC |" in page and "![ROC curve](anomaly_report_test_roc.png)" in page


def _table(path, rng, n_normal, n_odd):
    t = rng.normal(60, 8, n_normal + n_odd)
    p = 2 * t + rng.normal(0, 2, t.size)
    p[n_normal:] += rng.choice([-1, 1], n_odd) * 25  # anomalies break the relation
    kind = ["normal"] * n_normal + ["outlier"] * n_odd
    path.write_text("t,p,kind\n" + "".join(f"{a:.4f},{b:.4f},{k}\n"
                                           for a, b, k in zip(t, p, kind, strict=True)))
    return path


def test_fit_unsupervised_on_a_contaminated_table_then_report_on_new_rows(tmp_path, capsys):
    rng = np.random.default_rng(1)
    table = _table(tmp_path / "train.csv", rng, 950, 50)  # 5% anomalies, trained on as they are
    run = tmp_path / "run"
    _run(capsys, "anomaly", "fit", "vae", "--contamination", 0.05, "--data.path", table,
         "--data.label-column", "kind", "--data.tfds-dir", tmp_path / "tfds",
         "--model.likelihood", "gaussian", "--model.hidden", 32, "--model.latent-dim", 1,
         "--data.batch-size", 100, "--optim.learning-rate", 3e-3, "--train.steps", 600,
         "--train.workdir", run, "--train.no-progress")
    detector = load_detector(run)
    assert detector.rule == "contamination" and detector.normal_classes is None
    trained_on = detector.calibration["num_examples"]
    assert detector.calibration["flagged"] == math.floor(0.05 * trained_on)
    new = _table(tmp_path / "new.csv", rng, 200, 20)
    report = _run(capsys, "anomaly", "report", "--workdir", run, "--data", new)
    assert report["auroc"] > 0.95
    said = _run(capsys, "anomaly", "score", "--workdir", run, "--data", new, "--out",
                tmp_path / "s.json")
    rows = json.loads((tmp_path / "s.json").read_text())
    assert len(rows) == 220 and said["num_examples"] == 220
    assert {r["anomalous"] for r in rows[200:]} == {1} and rows[0]["label"] == 0
    with open(run / "anomaly_report_new_most.csv") as f:
        top = list(csv.DictReader(f))
    assert list(top[0]) == ["index", "score", "t", "p"]  # the table's columns, in its units
    assert 20 < float(top[0]["t"]) < 100


@pytest.mark.parametrize("family", ["vae", "ae", "ppca", "realnvp"])
def test_each_familys_score_is_higher_on_planted_outliers(tmp_path, family):
    rng = np.random.default_rng(2)
    cov = np.array([[1.0, 0.8, 0, 0], [0.8, 1.0, 0, 0], [0, 0, 1.0, -0.5], [0, 0, -0.5, 1.0]])
    x = rng.multivariate_normal(np.zeros(4), cov, 3000).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    base = FAMILIES[family].config()
    model = {"vae": dict(hidden=(32,), latent_dim=2, likelihood="gaussian"),
             "ae": dict(hidden=(32,), latent_dim=2, likelihood="gaussian"),
             "ppca": dict(latent_dim=2),
             "realnvp": dict(arch="mlp", num_layers=4, hidden=(32,))}[family]
    import dataclasses

    cfg = ExperimentConfig(
        model=dataclasses.replace(base, **model),
        data=DataConfig(path=str(tmp_path / "x.npy"), tfds_dir=str(tmp_path / "tfds"),
                        batch_size=128),
        optim=OptimConfig(learning_rate=3e-3),
        train=TrainConfig(workdir=str(tmp_path / "run"), steps=300, progress=False,
                          eval_every=10_000, sample_every=10_000))
    train(cfg, family)
    run = load_run(tmp_path / "run")
    held_out = rng.multivariate_normal(np.zeros(4), cov, 500).astype(np.float32)
    # Outliers: each off the learned structure (the correlated pairs broken), 5 std out.
    odd = held_out[:100].copy()
    odd[:, 1] = -odd[:, 0] + rng.choice([-1, 1], 100) * 5.0
    info = run.info
    normal_scores = score_examples(run, ArrayDataset(info, "n", held_out))
    odd_scores = score_examples(run, ArrayDataset(info, "o", odd))
    assert np.median(odd_scores) > np.quantile(normal_scores, 0.95), (
        np.median(odd_scores), np.quantile(normal_scores, 0.95))


def test_bad_settings_and_data_are_one_line_each(tmp_path, capsys):
    rng = np.random.default_rng(3)
    table = _table(tmp_path / "t.csv", rng, 300, 0)
    run = tmp_path / "run"
    common = ["--data.path", table, "--data.label-column", "kind", "--data.tfds-dir",
              tmp_path / "tfds", "--model.likelihood", "gaussian", "--train.steps", 5,
              "--train.workdir", run, "--train.no-progress"]
    _run(capsys, "anomaly", "fit", "vae", "--contamination", 0.0, *common)

    def fails(*argv):
        code = cli.main(list(map(str, argv)))
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1, err
        return err[0]

    assert "every one of the 30 examples of the test split is normal" in fails(
        "anomaly", "report", "--workdir", run)
    assert "--fpr must lie in [0, 1), got 1.5" in fails(
        "anomaly", "fit", "--workdir", run, "--fpr", 1.5, "--holdout", 0.1)
    assert "the run held none out" in fails("anomaly", "fit", "--workdir", run, "--fpr", 0.05)
    assert "from one of --fpr" in fails("anomaly", "fit", "--workdir", run, "--fpr", 0.05,
                                        "--contamination", 0.1)
    (tmp_path / "other.csv").write_text("t,q,kind\n1,2,normal\n")
    assert "other columns" in fails("anomaly", "score", "--workdir", run, "--data",
                                    tmp_path / "other.csv")
    (tmp_path / "nan.csv").write_text("t,p,kind\n1,nan,normal\n")
    assert "NaN or Inf" in fails("anomaly", "score", "--workdir", run, "--data",
                                 tmp_path / "nan.csv")
    assert "has no detector" in fails("anomaly", "score", "--workdir", tmp_path / "nowhere")
    # Settings that could only fail after training are refused before it.
    for flags, message in ((["--fpr", 1.5], "--fpr must lie in [0, 1), got 1.5"),
                           (["--holdout", 0], "--holdout must lie in (0, 1), got 0"),
                           (["--correction", "likelihood_ratio", "--background-perturb", 1],
                            "--background-perturb must lie in (0, 1), got 1.0")):
        assert message in fails("anomaly", "fit", "vae", *flags, *common[:-3],
                                "--train.workdir", tmp_path / "never")
        assert not (tmp_path / "never").exists()


def test_input_complexity_is_the_png_length_and_ranks_simple_below_busy_images():
    import io

    from gen_jax.apps.anomaly import complexity_bits

    rng = np.random.default_rng(4)
    flat = np.full((8, 8, 1), 128, np.uint8)
    busy = rng.integers(0, 256, (8, 8, 1)).astype(np.uint8)
    bits = complexity_bits(np.stack([flat, busy]))
    buffer = io.BytesIO()
    Image.fromarray(busy[..., 0]).save(buffer, format="PNG", optimize=True, compress_level=9)
    assert bits[1] == 8 * len(buffer.getvalue())  # the definition: PNG bytes, in bits
    assert bits[0] < bits[1] - 8 * 32  # a flat image compresses far better than noise
    with pytest.raises(ValueError, match="compresses 8-bit images"):
        complexity_bits(np.zeros((2, 4), np.float32))


def test_corrections_end_to_end_on_an_image_folder(tmp_path, capsys):
    """Input complexity and the likelihood ratio: the corrected score is the definition's,
    the background model trains on perturbed images and scores clean ones."""
    from gen_jax.apps.anomaly import background_run, complexity_bits, detector_scores
    from gen_jax.train import load_split

    folder = _images(tmp_path / "imgs", np.random.default_rng(5))
    common = ["--normal-classes", 0, "--data.path", folder, "--data.tfds-dir",
              tmp_path / "tfds", "--data.batch-size", 16, "--model.num-layers", 2,
              "--model.hidden", 16, "--train.steps", 60, "--train.no-progress"]
    ic, lr = tmp_path / "ic", tmp_path / "lr"
    _run(capsys, "anomaly", "fit", "realnvp", "--correction", "input_complexity", *common,
         "--train.workdir", ic)
    _run(capsys, "anomaly", "fit", "realnvp", "--correction", "likelihood_ratio",
         "--background-perturb", 0.3, *common, "--train.workdir", lr)
    run, detector = load_run(ic), load_detector(ic)
    test = load_split(run.config, "test")
    raw = score_examples(run, test, seed=detector.seed)
    np.testing.assert_allclose(detector_scores(run, test, correction="input_complexity"),
                               raw / np.log(2) - complexity_bits(test.x), rtol=1e-9)
    run, detector = load_run(lr), load_detector(lr)
    back = background_run(run, detector)
    assert back.config.data.perturb == 0.3  # trained on perturbed images ...
    x = jnp.asarray(test.x[:4])
    clean = back.preprocess({"x": x}, jax.random.PRNGKey(0))["x"]
    again = back.preprocess({"x": x}, jax.random.PRNGKey(0))["x"]
    np.testing.assert_allclose(clean, again)  # ... and scores clean ones (no random swaps)
    expected = (score_examples(run, test, seed=detector.seed)
                - score_examples(back, test, seed=detector.seed))
    np.testing.assert_allclose(detector_scores(run, test, correction="likelihood_ratio",
                                               background=back), expected, rtol=1e-9)
    report = _run(capsys, "anomaly", "report", "--workdir", lr, "--typicality", 4)
    assert 0.0 <= report["auroc"] <= 1.0
    typical = json.loads((lr / "anomaly_report_test.json").read_text())["typicality"]
    assert typical["batch_size"] == 4 and 0.0 <= typical["flagged_normal"] <= 1.0
    assert json.loads((lr / "anomaly_report_test.json").read_text())["correction"] == \
        "likelihood_ratio"


def test_the_vae_scores_by_reconstruction_error_or_importance_sampled_nll(tmp_path, capsys):
    rng = np.random.default_rng(6)
    table = _table(tmp_path / "t.csv", rng, 600, 0)
    run_dir = tmp_path / "run"
    _run(capsys, "anomaly", "fit", "vae", "--contamination", 0.05, "--score", "nll_is",
         "--importance-samples", 50, "--data.path", table, "--data.label-column", "kind",
         "--data.tfds-dir", tmp_path / "tfds", "--model.likelihood", "gaussian",
         "--model.hidden", 16, "--model.latent-dim", 1, "--train.steps", 200,
         "--train.workdir", run_dir, "--train.no-progress")
    detector = load_detector(run_dir)
    assert detector.score == "nll_is" and detector.importance_samples == 50
    run = load_run(run_dir)
    from gen_jax.train import load_split

    test = load_split(run.config, "test")
    # The negative ELBO (one posterior sample per scoring: averaged over 40 scorings) bounds
    # the importance-sampled NLL from above.
    neg_elbo = np.mean([score_examples(run, test, seed=s) for s in range(40)], axis=0)
    nll_is = score_examples(run, test, kind="nll_is", importance_samples=1000)
    assert np.mean(nll_is) < np.mean(neg_elbo)
    recon = score_examples(run, test, kind="recon_error")
    variables = run.state.variables(ema=True)
    x = jnp.asarray(test.x)  # a standardized table: the model sees it as it is
    direct = np.mean((np.asarray(run.model.reconstruct(variables, x)) - test.x) ** 2, axis=1)
    np.testing.assert_allclose(recon, direct, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="unknown score 'bogus'"):
        score_examples(run, test, kind="bogus")
