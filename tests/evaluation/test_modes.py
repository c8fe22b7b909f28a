"""The mode-coverage section of ``gen-jax eval``: known answers on constructed samples, the
skips, and the section of a real GAN run on a toy set."""

import json
import math
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import metrics
from gen_jax.data import toy_modes
from gen_jax.evaluation import EvalSettings, mode_section
from gen_jax.evaluation._modes import check_mode_settings


class _Model:
    """Samples that are exactly ``points``, in turn (a stand-in generator)."""

    def __init__(self, points, num_classes=0):
        self.points = jnp.asarray(points, jnp.float32)
        self.num_classes = num_classes

    def sample(self, variables, key, num, label=None):
        del variables, key, label
        return self.points[jnp.arange(num) % len(self.points)]


def _run(name, points, conditional=False):
    return types.SimpleNamespace(
        config=types.SimpleNamespace(data=types.SimpleNamespace(name=name),
                                     model=types.SimpleNamespace(conditional=conditional)),
        model=_Model(points, 10 if conditional else 0), model_name="gan",
        info=types.SimpleNamespace(num_classes=0, name=name),
        state=types.SimpleNamespace(variables=lambda ema: {}),
        strategy=types.SimpleNamespace(name="jit"))


def test_every_mode_one_mode_and_none_on_the_grid():
    centers, std = toy_modes("grid25")
    settings = EvalSettings(mode_samples=2500)
    every = mode_section(_run("grid25", centers), settings)
    assert (every["modes"], every["num_modes"], every["num_samples"]) == (25, 25, 2500)
    assert every["high_quality"] == 1.0 and every["kl"] == pytest.approx(0.0, abs=1e-9)
    assert every["min_mode_share"] == every["max_mode_share"] == pytest.approx(1 / 25)
    one = mode_section(_run("grid25", centers[:1] + [2.9 * std, 0.0]), settings)  # inside 3 std
    assert one["modes"] == 1 and one["kl"] == pytest.approx(math.log(25))
    assert one["max_mode_share"] == 1.0
    none = mode_section(_run("grid25", centers[:1] + 1.0), settings)  # between the modes
    assert none["modes"] == 0 and none["high_quality"] == 0.0 and none["kl"] is None
    assert none["min_mode_share"] is None and none["max_mode_share"] is None
    json.dumps(none, allow_nan=False)  # a valid JSON report


def test_the_protocol_sample_counts_are_the_defaults():
    centers, _ = toy_modes("ring8_r1")
    assert mode_section(_run("ring8_r1", centers), EvalSettings())["num_samples"] == 2500


def test_stacked_mnist_labels_each_channel_with_the_mnist_classifier(monkeypatch):
    # Images whose channel c is the constant d_c / 10, and a stand-in classifier that reads
    # the digit back: the 500 even triples, equally often, are 500 of the 1,000 modes with
    # KL ln 2 to uniform.
    digits = np.array([[i // 100, i // 10 % 10, i % 10] for i in range(0, 1000, 2)], np.float32)
    images = np.broadcast_to(digits[:, None, None, :] / 10, (500, 28, 28, 3))
    fake = types.SimpleNamespace(logits=lambda x: jax.nn.one_hot(
        jnp.floor(x.mean(axis=(1, 2, 3)) * 10 + 0.5).astype(jnp.int32) % 10, 10))
    monkeypatch.setattr(metrics, "load_classifier", lambda name, root: fake)
    section = mode_section(_run("stacked_mnist", images), EvalSettings())
    assert (section["modes"], section["num_modes"], section["num_samples"]) == (500, 1000, 26000)
    assert section["kl"] == pytest.approx(math.log(2))
    assert section["max_mode_share"] == pytest.approx(1 / 500)
    assert "high_quality" not in section  # classified samples have no quality threshold
    # Samples outside [0, 1] are clipped before the classifier reads them, as for quality:
    # constant images 1.7 and 1.2 both read as 1.0 (one mode; unclipped: 777 and 222).
    over = np.broadcast_to(np.array([1.7, 1.2], np.float32)[:, None, None, None],
                           (2, 28, 28, 3))
    clipped = mode_section(_run("stacked_mnist", over), EvalSettings(mode_samples=500))
    assert clipped["modes"] == 1 and clipped["max_mode_share"] == 1.0


def test_skips_say_why(tmp_path):
    assert "no known modes" in mode_section(_run("digits", np.zeros((1, 8, 8, 1))),
                                            EvalSettings())["skipped"]
    skipped = mode_section(_run("stacked_mnist", np.zeros((1, 28, 28, 3))),
                           EvalSettings(classifier_dir=str(tmp_path)))["skipped"]
    assert "classifier" in skipped and "\n" not in skipped
    conditional = mode_section(_run("ring8", np.zeros((1, 2)), conditional=True),
                               EvalSettings())["skipped"]
    assert "class-conditional" in conditional and "\n" not in conditional


def test_mode_samples_are_refused_where_no_section_would_use_them():
    ring = _run("ring8", np.zeros((1, 2)))
    no_prior = _run("ring8", np.zeros((1, 2)))
    no_prior.model = types.SimpleNamespace(num_classes=0)  # no sample(): no prior
    cases = {"no known modes": _run("digits", np.zeros((1, 8, 8, 1))),
             "no prior": no_prior,
             "class-conditional": _run("ring8", np.zeros((1, 2)), conditional=True)}
    for reason, run in cases.items():
        with pytest.raises(ValueError, match=f"--mode-samples .*{reason}.*; drop it"):
            check_mode_settings(run, EvalSettings(mode_samples=100))
        check_mode_settings(run, EvalSettings())  # the default is never refused
    check_mode_settings(ring, EvalSettings(mode_samples=100))


def test_eval_of_a_toy_gan_reports_its_mode_coverage(tmp_path):
    from gen_jax import cli  # training and the report in this process

    assert cli.main(["train", "gan", "--data.name", "ring8", "--data.batch-size", "64",
                     "--train.steps", "20", "--train.workdir", str(tmp_path),
                     "--train.no-progress", "--train.eval-every", "1000",
                     "--train.sample-every", "1000", "--model.g-hidden", "32",
                     "--model.d-hidden", "16"]) == 0

    assert cli.main(["eval", "--workdir", str(tmp_path), "--mode-samples", "500",
                     "--num-examples", "64"]) == 0
    report = json.loads((tmp_path / "eval_test.json").read_text())
    modes = report["mode_coverage"]
    assert modes["num_samples"] == 500 and modes["num_modes"] == 8
    # The section is the library's, computed here on the restored run with the same settings.
    from gen_jax.train import load_run

    here = mode_section(load_run(tmp_path), EvalSettings(mode_samples=500))
    assert modes["modes"] == here["modes"]
    for key in ("high_quality", "kl", "min_mode_share", "max_mode_share"):
        # None: no high-quality sample (20 steps in, likely), so no mode histogram
        want = None if here[key] is None else pytest.approx(here[key], rel=1e-5)
        assert modes[key] == want, key
    assert "--mode-samples 500" in report["command"]
    assert "## Mode coverage" in (tmp_path / "eval_test.md").read_text()
