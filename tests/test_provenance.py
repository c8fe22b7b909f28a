"""Provenance of written images: the PNG text chunks and the IPTC source type read back, the
config digest, and bad input. (tests/conftest.py checks, in every test, that each PNG file
gen_jax writes carries them.)"""

import dataclasses

import numpy as np
import pytest
from PIL import Image

from gen_jax.config import ExperimentConfig, TrainConfig
from gen_jax.models import VAEConfig
from gen_jax.provenance import (
    Provenance,
    config_digest,
    iptc_source_type,
    read_provenance,
    save_png,
)

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


@pytest.mark.parametrize("content, synthetic, source", [
    ("generated", "true", IPTC + "trainedAlgorithmicMedia"),
    ("mixed", "true", IPTC + "compositeWithTrainedAlgorithmicMedia"),
    ("real", "false", None), ("chart", "false", None)])
def test_png_carries_what_it_shows_and_which_run_made_it(tmp_path, content, synthetic, source):
    pixels = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    made = Provenance(content, "digits — a test", run="runs/a", model="vae", step=12,
                      config_sha256="ab" * 32)
    path = save_png(pixels, tmp_path / "x.png", made)
    text = read_provenance(path)
    assert text["gen_jax:content"] == content and text["gen_jax:synthetic"] == synthetic
    assert (text["gen_jax:run"], text["gen_jax:model"], text["gen_jax:step"]) == (
        "runs/a", "vae", "12")
    assert text["gen_jax:config_sha256"] == "ab" * 32
    assert text["Description"] == "digits — a test"  # non-Latin-1 text through iTXt
    assert text["Software"].startswith("gen_jax ")
    assert iptc_source_type(text) == source
    np.testing.assert_array_equal(np.asarray(Image.open(path)), pixels)  # pixels unchanged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]  # no temporary left


def test_grey_images_and_images_without_a_run(tmp_path):
    save_png(np.zeros((4, 4, 1), np.uint8), tmp_path / "g.png", Provenance("generated"))
    text = read_provenance(tmp_path / "g.png")
    assert Image.open(tmp_path / "g.png").mode == "L"
    assert text["gen_jax:synthetic"] == "true" and "gen_jax:run" not in text
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "plain.png")
    assert read_provenance(tmp_path / "plain.png") == {}


def test_config_digest_ignores_the_folder_and_follows_every_setting():
    cfg = ExperimentConfig(model=VAEConfig(), train=TrainConfig(workdir="runs/a"))
    moved = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, workdir="/elsewhere"))
    longer = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train,
                                                                steps=cfg.train.steps + 1))
    assert config_digest(cfg) == config_digest(moved) != config_digest(longer)
    assert len(config_digest(cfg)) == 64 and cfg.train.workdir == "runs/a"  # not modified


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="^provenance content must be one of generated, real, "
                                         "mixed, chart, got 'fake'$"):
        Provenance("fake")
    with pytest.raises(ValueError, match="^save_png takes uint8 pixels, got float32$"):
        save_png(np.zeros((2, 2, 1), np.float32), tmp_path / "f.png", Provenance("real"))
