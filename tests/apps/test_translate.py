"""``gen-jax translate``: a translated split reads back with its source labels, the output
domain's shape and its provenance; the untranslated baseline is the source images themselves;
a run that cannot translate (that way) is refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gen_jax import cli, data
from gen_jax.apps.augment import load_generated
from gen_jax.apps.translate import TranslateSettings, translated_set
from gen_jax.train import load_run

# one worker trains the module's runs once, and runs every test that reads them
pytestmark = pytest.mark.xdist_group("translate_runs")

TINY = ["--data.batch-size", "16", "--model.g-features", "4", "--model.depth", "1",
        "--model.d-features", "4", "--model.d-layers", "1", "--train.steps", "1",
        "--train.no-progress"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("translate")
    out = {"cyclegan": root / "cyclegan", "pix2pix": root / "pix2pix"}
    assert cli.main(["train", "cyclegan", "--data.name", "digits", "--data.target", "digits",
                     "--model.generator", "unet", *TINY, "--train.workdir",
                     str(out["cyclegan"])]) == 0
    assert cli.main(["train", "pix2pix", "--data.name", "digits", "--data.target", "digits",
                     "--data.paired", *TINY, "--train.workdir", str(out["pix2pix"])]) == 0
    return out


def test_a_translated_split_reads_back_with_its_labels_and_provenance(runs, tmp_path, capsys):
    out = tmp_path / "translated.npz"
    assert cli.main(["translate", "--workdir", str(runs["cyclegan"]), "--out", str(out),
                     "--split", "test", "--size", "50"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["to"] == "digits" and line["num"] == 50
    got = load_generated(out)
    test = data.load("digits", "test")
    np.testing.assert_array_equal(got.y, test.label[:50])
    assert got.x.shape == (50, 8, 8, 1) and got.x.dtype == np.uint8
    record = got.record
    assert record["translation"] == {"from": "digits", "to": "digits", "split": "test",
                                     "mode": "translate"}
    assert record["data"]["name"] == "digits"  # augment evaluate tests on the output domain
    assert record["source"]["model"] == "cyclegan" and record["source"]["step"] == 1
    # the source-only baseline: the images themselves, at 8 bits
    run = load_run(runs["cyclegan"])
    same = translated_set(run, TranslateSettings(split="test", mode="untranslated", size=50))
    np.testing.assert_array_equal(same.x, np.rint(test.x[:50] / 16 * 255).astype(np.uint8))
    back = translated_set(run, TranslateSettings(split="test", mode="back", size=5))
    assert back.record["translation"]["mode"] == "back" and back.x.shape == (5, 8, 8, 1)


def test_runs_that_cannot_translate_that_way_are_refused(runs, tmp_path):
    with pytest.raises(ValueError, match="translates one way only"):
        translated_set(load_run(runs["pix2pix"]), TranslateSettings(mode="back"))
    with pytest.raises(ValueError, match="has no split 'validation'"):
        translated_set(load_run(runs["pix2pix"]), TranslateSettings(split="validation"))
    with pytest.raises(ValueError, match="--mode must be"):
        TranslateSettings(mode="sideways")


def test_a_paired_run_scores_each_example_against_its_counterpart(runs):
    from gen_jax.apps.score import score_split
    from gen_jax.evaluation import translate_images

    run = load_run(runs["pix2pix"])
    scores = score_split(run, "test", num_examples=20)
    x = data.load("digits", "test").x[:20]  # digits paired with themselves: y = x
    expected = np.abs(translate_images(run, x) - x / 16.0).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
