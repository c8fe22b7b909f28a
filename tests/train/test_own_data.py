"""Training on a user's own data end to end: train, resume, sample, evaluate, score new data."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib

import jax
import numpy as np
import pytest
from PIL import Image

from gen_jax import cli
from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.data import DataError, load_own
from gen_jax.evaluation import EvalSettings, evaluate_run
from gen_jax.models import VAEConfig
from gen_jax.train import build_run, load_run, own_data, standardizer, train


def _images(root: pathlib.Path) -> pathlib.Path:
    rng = np.random.default_rng(0)
    for c, level in (("dark", 40), ("light", 200)):
        for i in range(12):
            size = (10, 12) if i % 2 else (12, 10)  # mixed sizes: resized with --data.image-size
            im = np.clip(rng.normal(level, 20, (*size, 3)), 0, 255).astype(np.uint8)
            (root / c).mkdir(parents=True, exist_ok=True)
            Image.fromarray(im).save(root / c / f"{i}.png")
    return root


def _arrays(path: pathlib.Path) -> pathlib.Path:
    rng = np.random.default_rng(1)
    np.savez(path, x_train=rng.integers(0, 256, (24, 6, 6), dtype=np.uint8),
             x_test=rng.integers(0, 256, (8, 6, 6), dtype=np.uint8))
    return path


def _table(path: pathlib.Path, n: int = 40, scale: float = 1.0) -> pathlib.Path:
    rng = np.random.default_rng(2)
    rows = [f"{scale * (100 + 10 * u):.6f},{scale * (-3 + 0.1 * v):.6f},{k}"
            for u, v, k in zip(rng.normal(size=n), rng.normal(size=n), "ab" * (n // 2),
                               strict=True)]
    path.write_text("\n".join(["height,width,kind", *rows]) + "\n")
    return path


FORMATS = {
    "images": (_images, {"image_size": 8}, VAEConfig(hidden=(16,), latent_dim=2)),
    "arrays": (_arrays, {}, VAEConfig(hidden=(16,), latent_dim=2)),
    "table": (_table, {"label_column": "kind"},
              VAEConfig(hidden=(16,), latent_dim=2, likelihood="gaussian")),
}


def _cfg(tmp_path, path, data, model, workdir, steps):
    return ExperimentConfig(
        model=model,
        data=DataConfig(path=str(path), batch_size=8, tfds_dir=str(tmp_path / "tfds"), **data),
        optim=OptimConfig(),
        train=TrainConfig(workdir=str(tmp_path / workdir), steps=steps, progress=False,
                          log_every=2, eval_every=1000, sample_every=1000, checkpoint_every=2),
    )


def _params(workdir):
    run = load_run(workdir)
    return jax.tree.leaves(jax.device_get(run.state.params))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_each_format_trains_resumes_samples_and_evaluates(tmp_path, fmt):
    make, data, model = FORMATS[fmt]
    path = make(tmp_path / {"images": "imgs", "arrays": "a.npz", "table": "t.csv"}[fmt])
    cfg = _cfg(tmp_path, path, data, model, "run", steps=4)
    train(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=2)), "vae")
    train(cfg, "vae")  # resumed at step 2
    train(_cfg(tmp_path, path, data, model, "straight", steps=4), "vae")
    for a, b in zip(_params(cfg.train.workdir), _params(tmp_path / "straight"), strict=True):
        np.testing.assert_array_equal(a, b)
    record = json.loads((tmp_path / "run" / "data.json").read_text())
    assert record["data"]["kind"] == fmt and record["data"]["path"] == str(path)
    run = load_run(cfg.train.workdir)
    report = evaluate_run(run, cfg.train.workdir, EvalSettings(grid_size=4))
    assert report["dataset"] == str(path) and np.isfinite(report["elbo"])
    assert "no feature classifier" in report["sample_quality"]["skipped"]
    assert cli.main(["sample", "--workdir", cfg.train.workdir, "--num", "6"]) == 0
    assert (tmp_path / "run" / "samples_seed0.png").is_file()


def test_a_table_run_keeps_its_standardization_and_scores_new_rows_with_it(tmp_path, capsys):
    make, data, model = FORMATS["table"]
    path = make(tmp_path / "t.csv")
    cfg = _cfg(tmp_path, path, data, model, "run", steps=2)
    train(cfg, "vae")
    fitted = standardizer(cfg)
    assert fitted.mean[0] == pytest.approx(100, abs=5)
    assert fitted.std[0] == pytest.approx(10, rel=0.5)
    # New contents of the same shape: the run goes on with its recorded standardization.
    _table(path, scale=2.0)
    os.utime(path, ns=(1, 1))
    longer = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=4))
    with pytest.warns(UserWarning, match="changed since the run in .* started"):
        train(longer, "vae")
    np.testing.assert_array_equal(standardizer(longer).mean, fitted.mean)
    # Scoring new rows: far-out rows score higher than typical ones, in the run's units.
    new = tmp_path / "new.csv"
    new.write_text("height,width,kind\n100,-3,a\n400,30,b\n")
    capsys.readouterr()
    assert cli.main(["score", "--workdir", cfg.train.workdir, "--data", str(new)]) == 0
    scores = np.load(tmp_path / "run" / "scores_new.npy")
    assert scores.shape == (2,) and scores[1] > scores[0] + 10
    assert cli.main(["sample", "--workdir", cfg.train.workdir, "--num", "200"]) == 0
    written = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = np.loadtxt(written["csv"], delimiter=",", skiprows=1)
    header = pathlib.Path(written["csv"]).read_text().splitlines()[0]
    assert header == "height,width" and rows.shape == (200, 2)
    assert np.median(rows[:, 0]) == pytest.approx(100, abs=30)  # back in the data's units
    assert cli.main(["reconstruct", "--workdir", cfg.train.workdir, "--num", "3"]) == 0
    written = json.loads(capsys.readouterr().out)
    table = np.loadtxt(written["csv"], delimiter=",", skiprows=1)
    assert table.shape == (6, 2) and np.load(written["npy"]).shape == (3, 2, 2)
    raw = load_own(own_data(cfg), "test").x[:3]  # the examples, in the table's units
    np.testing.assert_allclose(table[0::2], raw, rtol=1e-5)


def test_a_source_that_changed_shape_is_refused_with_the_fix(tmp_path):
    make, data, model = FORMATS["table"]
    path = make(tmp_path / "t.csv")
    cfg = _cfg(tmp_path, path, data, model, "run", steps=2)
    train(cfg, "vae")
    path.write_text("height,width,depth,kind\n" + "1,2,3,a\n4,5,6,b\n" * 10)
    with pytest.raises(DataError, match=r"t.csv now has example shape \[3\], but the run in "
                                        r".*run was trained on \[2\]: restore the data"):
        build_run(cfg, "vae")
