"""Tree-Ring watermarks: the detector's null law is exact on white noise, the planted rings are
what the key says and nothing else changes, a flow's samples carry the key through its exact
inverse, the edits, and the command line with its one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from scipy import stats

from gen_jax import cli, models, provenance
from gen_jax.apps.watermark import (
    TreeRingKey,
    apply_edit,
    detect,
    detect_images,
    draw_noise,
    embed,
    generate,
    watermarked_samples,
)
from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.train import load_run, train


@pytest.mark.parametrize("shape, channel, inner", [((28, 28, 1), 0, 1), ((16, 12, 3), 2, 3)])
def test_the_p_values_of_white_noise_are_uniform(shape, channel, inner):
    key = TreeRingKey(seed=11, shape=shape, radius=5, channel=channel, inner_radius=inner)
    found = detect(np.random.default_rng(0).normal(size=(4000, *shape)) * 3.0, key)
    p = 10.0 ** found.log10_p
    assert stats.kstest(p, "uniform").pvalue > 1e-3
    for alpha in (0.01, 0.05):  # the false-positive rate holds, within 4 binomial sd
        assert abs(np.mean(found.watermarked(alpha)) - alpha) < 4 * np.sqrt(alpha / 4000)


def test_the_rings_are_planted_exactly_and_nothing_else_moves():
    key = TreeRingKey(seed=3, shape=(12, 12, 2), radius=3, channel=1)
    noise = np.random.default_rng(1).normal(size=(5, 12, 12, 2)).astype(np.float32)
    marked = embed(noise, key)
    np.testing.assert_array_equal(marked[..., 0], noise[..., 0])  # the other channel
    before, after = (np.fft.fft2(a[..., 1].astype(np.float64), axes=(1, 2))
                     for a in (noise, marked))
    ring = key.rings()
    assert set(np.unique(ring)) == {0, 1, 2, 3}
    np.testing.assert_allclose(after[:, ring > 0], np.broadcast_to(
        key.pattern()[ring > 0], (5, int((ring > 0).sum()))), atol=1e-4)
    np.testing.assert_allclose(after[:, ring == 0], before[:, ring == 0], atol=1e-4)
    for r in (1, 2, 3):  # one real value per ring
        assert np.ptp(key.pattern()[ring == r]) == 0.0
    found = detect(marked, key)
    np.testing.assert_allclose(found.cosine, 1.0, atol=1e-6)
    assert np.all(found.log10_p < -50)
    other = detect(marked, TreeRingKey(seed=4, shape=(12, 12, 2), radius=3, channel=1))
    assert np.all(other.log10_p > -6)  # another key does not find it


def test_keys_round_trip_and_bad_keys_say_why(tmp_path):
    key = TreeRingKey.generate((28, 28, 1))
    assert (key.inner_radius, key.radius) == (5, 10)
    assert key.seed != TreeRingKey.generate((28, 28, 1)).seed
    assert TreeRingKey.generate((8, 8, 1)).radius == 3
    path = key.save(tmp_path / "key.json")
    assert TreeRingKey.load(path) == key
    assert path.stat().st_mode & 0o077 == 0  # private to its owner
    (tmp_path / "bad.json").write_text(json.dumps({"seed": 1}))
    with pytest.raises(ValueError, match="is not a gen_jax watermark key"):
        TreeRingKey.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="no watermark key at"):
        TreeRingKey.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="radius 14 must lie in 1..13"):
        TreeRingKey(1, (28, 28, 1), 14)
    with pytest.raises(ValueError, match="inner radius 8 must lie in 1..7"):
        TreeRingKey(1, (28, 28, 1), 7, inner_radius=8)
    annulus = TreeRingKey(1, (28, 28, 1), 7, inner_radius=5)
    assert set(np.unique(annulus.rings())) == {0, 5, 6, 7}
    assert TreeRingKey.load(annulus.save(tmp_path / "annulus.json")) == annulus
    with pytest.raises(ValueError, match="image data"):
        TreeRingKey.generate((784,))
    with pytest.raises(ValueError, match="does not fit a key"):
        detect(np.zeros((2, 8, 8, 1)), key)


def test_edits_keep_the_shape_and_change_the_pixels():
    images = np.random.default_rng(2).uniform(size=(3, 16, 16, 1)).astype(np.float32)
    assert np.array_equal(apply_edit("none", images), np.rint(images * 255) / 255)
    for name in ("jpeg_50", "resize_0.5", "crop_0.75", "blur_1", "noise_0.05"):
        edited = apply_edit(name, images)
        assert edited.shape == images.shape and 0.01 < np.abs(edited - images).mean() < 0.5
    assert np.array_equal(apply_edit("noise_0.05", images), apply_edit("noise_0.05", images))
    with pytest.raises(ValueError, match="unknown edit 'rotate'"):
        apply_edit("rotate", images)


def _flow_run(workdir):
    cfg = ExperimentConfig(model=models.FAMILIES["realnvp"].tiny(),
                           data=DataConfig(name="digits", batch_size=16), optim=OptimConfig(),
                           train=TrainConfig(workdir=str(workdir), steps=2, progress=False,
                                             eval_every=1000, sample_every=1000))
    train(cfg, "realnvp")
    return load_run(workdir)


def test_a_flow_carries_the_key_and_the_command_line_finds_it(tmp_path, capsys):
    flow_run = _flow_run(tmp_path / "realnvp")
    key = TreeRingKey(seed=5, shape=(8, 8, 1), radius=2)
    marked, labels = watermarked_samples(flow_run, key, 64, seed=0)
    assert labels is None and marked.shape == (64, 8, 8, 1)
    clean = generate(flow_run, draw_noise(flow_run, 64, seed=1))
    found, null = detect_images(flow_run, key, marked), detect_images(flow_run, key, clean)
    assert np.all(found.cosine > 0.99) and np.all(found.watermarked(1e-6))
    assert np.mean(null.watermarked(0.05)) < 0.2

    workdir = str(flow_run.config.train.workdir)
    key = tmp_path / "key.json"
    assert cli.main(["watermark", "key", "--workdir", workdir, "--out", str(key)]) == 0
    assert cli.main(["watermark", "sample", "--workdir", workdir, "--key", str(key), "--num",
                     "3", "--out", str(tmp_path / "s")]) == 0
    files = sorted((tmp_path / "s").glob("*.png"))
    assert len(files) == 3
    assert provenance.read_provenance(files[0])["gen_jax:synthetic"] == "true"
    capsys.readouterr()
    assert cli.main(["watermark", "detect", "--workdir", workdir, "--key", str(key), "--json",
                     *map(str, files)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["watermarked"] for r in rows] == [True] * 3
    assert cli.main(["watermark", "evaluate", "--workdir", workdir, "--key", str(key), "--num",
                     "8", "--edits", "none", "blur_1", "--out", str(tmp_path / "w.json")]) == 0
    report = json.loads((tmp_path / "w.json").read_text())
    assert [r["edit"] for r in report["edits"]] == ["none", "blur_1"]
    assert report["edits"][0]["tpr"] == 1.0 and "| none | 1.000 |" in (
        tmp_path / "w.md").read_text()
    # bad input: one line each
    Image.new("L", (9, 8)).save(tmp_path / "wide.png")
    other = TreeRingKey.generate((28, 28, 1)).save(tmp_path / "other.json")
    for args, message in [
        (["detect", "--workdir", workdir, "--key", str(key), str(tmp_path / "wide.png")],
         "is 9x8, the run makes 8x8"),
        (["detect", "--workdir", workdir, "--key", str(other), str(files[0])],
         "the key is for 28x28x1 images"),
        (["detect", "--workdir", workdir, "--key", str(key), "--alpha", "2", str(files[0])],
         "--alpha must lie in"),
    ]:
        assert cli.main(["watermark", *args]) == 2
        assert message in capsys.readouterr().err


def test_a_family_without_a_noise_code_is_refused_in_one_line():
    from types import SimpleNamespace

    from gen_jax.apps.watermark import check_run
    from gen_jax.data import DatasetInfo

    digits = DatasetInfo("digits", (8, 8, 1), 10, 17)
    vae = models.build("vae", models.FAMILIES["vae"].tiny(), digits)
    with pytest.raises(ValueError, match="vae does not map samples to and from their noise"):
        check_run(SimpleNamespace(model=vae, model_name="vae"))
