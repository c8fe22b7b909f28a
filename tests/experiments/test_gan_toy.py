"""The bookkeeping of experiments/gan_toy/run.py that its recorded tables rest on: the mean and
standard error, the table's cells (runs without a KL), which saved runs count as the command's
regime, and the report's refusal to merge regimes."""

import importlib.util
import json
import math
import sys

import pytest

from gen_jax.config import save_json

from ..conftest import REPO

EXPERIMENT = REPO / "experiments" / "gan_toy"


@pytest.fixture(scope="module")
def run():
    """experiments/gan_toy/run.py as a module (it imports its sibling config.py as ``config``)."""
    saved = sys.modules.pop("config", None)
    sys.path.insert(0, str(EXPERIMENT))
    try:
        spec = importlib.util.spec_from_file_location("gan_toy_run", EXPERIMENT / "run.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXPERIMENT))
        sys.modules.pop("config", None)
        if saved is not None:
            sys.modules["config"] = saved
    return module


def row(data="grid25", pac=4, seed=0, modes=25, high_quality=90.0, kl=0.1):
    return {"data": data, "pac": pac, "seed": seed, "modes": modes,
            "high_quality": high_quality, "kl": kl, "train_s": 1.0}


def test_mean_se_is_the_sample_standard_deviation_over_root_n(run):
    mean, se = run.mean_se([1.0, 2.0, 3.0, 4.0])
    # deviations -1.5, -0.5, 0.5, 1.5: sum of squares 5, variance 5 / 3
    assert mean == 2.5 and se == pytest.approx(math.sqrt(5 / 3) / 2)
    assert run.mean_se([7.0]) == (7.0, 0.0)


def test_table_rows_are_means_and_standard_errors_beside_the_paper(run):
    text = run.table({"runs": [row(seed=0, modes=25, high_quality=92.0, kl=0.1),
                               row(seed=1, modes=23, high_quality=96.0, kl=0.3)]})
    lines = text.splitlines()
    assert len(lines) == 3  # header, rule, the one (data, pac) present
    assert lines[2] == ("| grid25 | PacGAN4 | 24.0 ± 1.0 | 94.0 ± 2.0 | 0.200 ± 0.100 | "
                        "24.8 / 93.6 / 0.04 |")


def test_table_kl_covers_only_the_runs_that_have_one(run):
    some = run.table({"runs": [row(seed=0, kl=0.1), row(seed=1, kl=0.3),
                               row(seed=2, modes=0, high_quality=0.0, kl=None)]})
    assert "| 0.200 ± 0.100 (2 of 3 runs; the others had no high-quality sample) |" in some
    assert "| 16.7 ± 8.3 |" in some  # modes average over all 3 runs: (25 + 25 + 0) / 3
    none = run.table({"runs": [row(pac=1, modes=0, high_quality=0.0, kl=None)]})
    assert "| none (no run had a high-quality sample) |" in none
    assert "| grid25 | GAN | 0.0 ± 0.0 | 0.0 ± 0.0 |" in none


def test_a_saved_run_of_another_optimizer_is_another_regime(run, tmp_path):
    paper = dict(steps=400_000, lr=1e-4, b1=0.8, schedule="constant", update="simultaneous")
    cfg = run.experiment.make("grid25", 4, 0, workdir=str(tmp_path), checkpoint_every=10_000,
                              **paper)
    assert run.regime_mismatch(tmp_path, cfg) is None  # nothing saved yet
    save_json(cfg, "gan", tmp_path / "config.json")
    # The checkpoint interval is not part of the regime: a run may resume with another one.
    again = run.experiment.make("grid25", 4, 0, workdir=str(tmp_path),
                                checkpoint_every=2_500, **paper)
    assert run.regime_mismatch(tmp_path, again) is None
    other = run.experiment.make("grid25", 4, 0, workdir=str(tmp_path),
                                **{**paper, "update": "alternating"})
    assert run.regime_mismatch(tmp_path, other) == (
        f"{tmp_path} was trained with model.update='simultaneous', this command asks for "
        "'alternating'")
    bn = run.experiment.make("grid25", 4, 0, workdir=str(tmp_path), paper_bn=True, **paper)
    assert "model.bn_momentum=0.9" in run.regime_mismatch(tmp_path, bn)
    with pytest.raises(SystemExit, match="use another --out"):
        run.check_same_regime(tmp_path, bn)


def test_report_refuses_to_merge_regimes(run, tmp_path, capsys):
    def results(name, **regime):
        path = tmp_path / name
        path.write_text(json.dumps({"steps": 400_000, "lr": 1e-4, "b1": 0.8,
                                    "schedule": "constant", "update": "simultaneous",
                                    "paper_bn": False, "wall_s": 1.0, "runs": [row()],
                                    **regime}))
        return str(path)

    same = [results("a.json"), results("b.json")]
    assert run.main(["--report", *same]) == 0
    assert "| grid25 | PacGAN4 | 25.0 ± 0.0 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run.main(["--report", same[0], results("c.json", paper_bn=True)])
    assert "of different regimes" in capsys.readouterr().err
