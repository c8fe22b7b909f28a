"""The bookkeeping of experiments/gan_toy that its recorded tables rest on: the mean and standard
error, the table's cells (runs without a KL), which saved runs count as the command's regime, the
report's refusal to merge regimes, and sampling_stats.py's agreement with run.py's score."""

import json
import math
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.config import save_json
from gen_jax.metrics import toy_mode_coverage
from gen_jax.train import load_run, train

from ._scripts import load_script


def load(script: str):
    return load_script("gan_toy", script)


@pytest.fixture(scope="module")
def run():
    return load("run.py")


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
    assert lines[2] == ("| grid25 | PacGAN4 | 2 | 24.0 ± 1.0 | 94.0 ± 2.0 | 0.200 ± 0.100 | "
                        "24.8 / 93.6 / 0.04 |")


def test_table_kl_covers_only_the_runs_that_have_one(run):
    some = run.table({"runs": [row(seed=0, kl=0.1), row(seed=1, kl=0.3),
                               row(seed=2, modes=0, high_quality=0.0, kl=None)]})
    assert "| 0.200 ± 0.100 (2 of 3 runs; the others had no high-quality sample) |" in some
    assert "| 16.7 ± 8.3 |" in some  # modes average over all 3 runs: (25 + 25 + 0) / 3
    none = run.table({"runs": [row(pac=1, modes=0, high_quality=0.0, kl=None)]})
    assert "| none (no run had a high-quality sample) |" in none
    assert "| grid25 | GAN | 1 | 0.0 ± 0.0 | 0.0 ± 0.0 |" in none


def test_ema_table_pairs_each_runs_weights_with_its_ema(run):
    def with_ema(seed, modes, high_quality, kl, ema):
        return {**row(seed=seed, modes=modes, high_quality=high_quality, kl=kl),
                "ema": {"decay": 0.9999, "modes": ema[0], "high_quality": ema[1], "kl": ema[2]}}

    assert run.paired_table({"runs": [row(seed=0)]}, "ema") == ""  # no run has an EMA score
    text = run.paired_table({"runs": [
        with_ema(1, 24, 90.0, 0.10, (25, 94.0, 0.04)),
        with_ema(2, 25, 95.0, 0.05, (25, 95.0, 0.03)),
        row(seed=0, modes=20, high_quality=50.0, kl=0.9),  # no EMA: not in the pairs
        with_ema(3, 0, 0.0, None, (1, 2.0, 0.5)),  # no KL of its weights: not in the KL pair
    ]}, "ema")
    lines = text.splitlines()
    assert len(lines) == 3
    # modes: weights (24 + 25 + 0) / 3 = 16.33, EMA (25 + 25 + 1) / 3 = 17; changes 1, 0, 1
    # high quality: changes 4, 0, 2 (mean 2, s.e. 2 / sqrt 3); KL: changes -0.06, -0.02
    assert lines[2] == ("| grid25 | PacGAN4 | 0.9999 | 3 | 16.3 → 17.0 (+0.7 ± 0.3) | "
                        "61.7 → 63.7 (+2.0 ± 1.2) | 0.075 → 0.035 (-0.040 ± 0.020) "
                        "(2 of 3 runs) |")


def test_standing_table_pairs_each_runs_running_and_standing_statistics(run):
    def with_standing(seed, modes, kl, standing):
        return {**row(seed=seed, modes=modes, kl=kl),
                "standing": {"modes": standing[0], "high_quality": standing[1],
                             "kl": standing[2]}}

    runs = [with_standing(1, 24, 0.10, (25, 91.0, 0.05)), row(seed=0),
            with_standing(2, 25, 0.04, (25, 89.0, 0.03)),
            {**row(data="ring8_r1", pac=1), "ema": {"decay": 0.9, "modes": 8,
                                                   "high_quality": 90.0, "kl": 0.1}}]
    lines = run.paired_table({"runs": runs}, "standing").splitlines()
    assert lines[0] == ("| data | model | runs | modes: weights → standing (change) | "
                        "high-quality %: weights → standing (change) | "
                        "reverse KL: weights → standing (change) |")
    assert len(lines) == 3 and len(lines[1].split("|")) == len(lines[0].split("|"))
    # KL changes -0.05 and -0.01: mean -0.03, s.e. 0.02; high quality 90 -> 91 and 89
    assert lines[2] == ("| grid25 | PacGAN4 | 2 | 24.5 → 25.0 (+0.5 ± 0.5) | "
                        "90.0 → 90.0 (+0.0 ± 1.0) | 0.070 → 0.040 (-0.030 ± 0.020) |")


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
    assert "| grid25 | PacGAN4 | 2 | 25.0 ± 0.0 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run.main(["--report", same[0], results("c.json", paper_bn=True)])
    assert "of different regimes" in capsys.readouterr().err


def test_record_merges_finished_runs_into_a_results_file_of_the_same_regime(run, tmp_path,
                                                                           capsys):
    paper = ["--steps", "400000", "--lr", "1e-4", "--b1", "0.8", "--schedule", "constant",
             "--update", "simultaneous"]
    out = tmp_path / "runs"
    for seed, step, kl in ((1, 400_000, 0.2), (2, 400_000, 0.3), (3, 250_000, 0.9)):
        (out / f"grid25_pac4_seed{seed}").mkdir(parents=True)
        (out / f"grid25_pac4_seed{seed}" / "score.json").write_text(json.dumps(
            {**row(seed=seed, kl=kl), "update": "simultaneous", "step": step}))
    recorded = tmp_path / "results" / "paper.json"
    argv = ["--record", str(recorded), "--out", str(out), *paper]
    assert run.main(argv) == 0
    rows = json.loads(recorded.read_text())["runs"]
    assert [(r["seed"], r["kl"]) for r in rows] == [(1, 0.2), (2, 0.3)]  # seed 3 unfinished

    # A row the file keeps (its run no longer under --out) stays; a run under --out replaces
    # the file's row of the same run.
    saved = json.loads(recorded.read_text())
    saved["runs"] = [{**row(seed=0, kl=0.1), "train_s": None}, {**rows[0], "kl": 0.7}]
    recorded.write_text(json.dumps(saved))
    shutil.rmtree(out / "grid25_pac4_seed2")
    assert run.main(argv) == 0
    merged = json.loads(recorded.read_text())
    assert [(r["seed"], r["kl"]) for r in merged["runs"]] == [(0, 0.1), (1, 0.2)]
    assert merged["seeds"] == 2 and merged["steps"] == 400_000
    assert "| grid25 | PacGAN4 | 2 | 25.0 ± 0.0 | 90.0 ± 0.0 | 0.150 ± 0.050 |" in \
        capsys.readouterr().out

    with pytest.raises(SystemExit, match=r"holds runs of regime .*record each regime in its own"):
        run.main([*argv[:-2], "--update", "alternating"])


@pytest.mark.slow  # 20 s of the default suite's budget: a finished experiment's diagnostic
def test_sampling_stats_draws_the_sweep_noise_under_each_statistics(run, tmp_path):
    """The diagnostic's running-statistics samples are those run.py scores (same checkpoint,
    noise, variables and jitted sampler); its training-mode samples are the generator in
    training mode on that noise, batch by batch (each pack position normalized on its own, as
    in training with the paper's batch norm), the last batch padded with other noise."""
    cfg = run.experiment.make("grid25", 2, 3, steps=30, workdir=str(tmp_path), paper_bn=True)
    assert cfg.model.pack_batch_norm
    train(cfg, "gan")
    stats = load("sampling_stats.py")
    trained = load_run(tmp_path)
    num, batch = 500, cfg.data.batch_size  # 2 whole batches of 200 and 100 rows of a third
    got = {k: np.asarray(v) for k, v in stats.samples(trained, num).items()}
    variables = trained.state.variables()
    np.testing.assert_array_equal(got["running"], run.draw(
        trained.model, trained.model.sampling_variables(variables), 3, num))
    g_vars = {"params": variables["params"]["generator"],
              "batch_stats": variables["batch_stats"]["generator"]}
    z = jax.random.normal(jax.random.PRNGKey(10_000 + 3), (num, 2))  # GAN.sample's noise
    for first in (0, batch):
        want, _ = trained.model.generate(g_vars, z[first:first + batch], None, train=True)
        np.testing.assert_allclose(got["train_mode"][first:first + batch], want, rtol=1e-5,
                                   atol=1e-5)
    last = jnp.concatenate([z[2 * batch:], jax.random.normal(jax.random.PRNGKey(1), (100, 2))])
    want, _ = trained.model.generate(g_vars, last, None, train=True)
    np.testing.assert_allclose(got["train_mode"][2 * batch:], want[:100], rtol=1e-5, atol=1e-5)
    # 30 steps in, the statistics of one batch are not the running ones
    assert np.abs(got["train_mode"] - got["running"]).max() > 1e-2
    assert np.abs(got["standing"] - got["running"]).max() > 1e-2
    # scores() reads the checkpoints of the folder it is given, also of a run moved elsewhere
    moved = tmp_path.parent / f"{tmp_path.name}_moved"
    shutil.move(tmp_path, moved)
    np.testing.assert_array_equal(stats.samples(load_run(moved), num)["running"],
                                  got["running"])
    score = stats.scores(moved, num)
    assert score["step"] == 30
    assert score["running"]["modes"] == toy_mode_coverage(got["running"], "grid25").modes


@pytest.mark.slow  # 26 s of the default suite's budget: a finished experiment's EMA option
def test_an_ema_leaves_training_alone_and_adds_the_ema_generators_score(run, tmp_path,
                                                                        monkeypatch):
    """A run that tracks an EMA trains the same weights as one that does not (the EMA is not
    part of the regime), its protocol score is of those weights, ``"standing"`` scores them with
    standing statistics and ``"ema"`` the EMA generator with standing statistics, all on the
    same noise. A run keeps the EMA setting it was
    started with."""
    args = run.argparse.Namespace(steps=20, lr=1e-3, b1=0.5, schedule="constant",
                                  checkpoint_every=None, update="simultaneous", paper_bn=False,
                                  ema_decay=None)
    plain = run.make(args, "ring8_r1", 2, 1, tmp_path / "plain")
    averaged = run.make(run.argparse.Namespace(**{**vars(args), "ema_decay": 0.9}), "ring8_r1",
                        2, 1, tmp_path / "ema")
    assert (plain.optim.ema_decay, averaged.optim.ema_decay) == (None, 0.9)
    for cfg in (plain, averaged):
        train(cfg, "gan")
    a, b = load_run(tmp_path / "plain").state, load_run(tmp_path / "ema").state
    jax.tree.map(np.testing.assert_array_equal, a.params, b.params)
    jax.tree.map(np.testing.assert_array_equal, a.batch_stats, b.batch_stats)
    assert a.ema_params is None and b.ema_params is not None

    drawn = []  # the variables of each score's samples, in order
    draw = run.draw
    monkeypatch.setattr(run, "draw", lambda m, v, *a: drawn.append(v) or draw(m, v, *a))
    got_plain, got_ema = run.score(plain, 1, 400), run.score(averaged, 1, 400)
    assert "ema" not in got_plain
    assert {k: v for k, v in got_ema.items() if k != "ema"} == got_plain
    model = load_run(tmp_path / "ema").model
    # "standing": the trained weights with statistics recomputed for them, on the same noise
    want = model.with_standing_stats(b.variables(), jax.random.PRNGKey(0), 64, 400)
    assert len(drawn) == 5  # plain: running, standing; EMA run: running, standing, EMA
    jax.tree.map(np.testing.assert_array_equal, drawn[1], want)
    jax.tree.map(np.testing.assert_array_equal, drawn[0]["batch_stats"], b.batch_stats)
    assert got_plain["standing"] == run.cover(draw(model, want, 1, 400), "ring8_r1")
    ema_samples = run.draw(model, model.with_standing_stats(
        b.variables(ema=True), jax.random.PRNGKey(0), 64, 400), 1, 400)
    cov = toy_mode_coverage(np.asarray(ema_samples), "ring8_r1")
    assert got_ema["ema"]["decay"] == 0.9
    assert (got_ema["ema"]["modes"], got_ema["ema"]["high_quality"]) == (
        cov.modes, 100 * cov.high_quality)
    raw = np.asarray(run.draw(model, b.variables(), 1, 400))
    assert np.abs(np.asarray(ema_samples) - raw).max() > 1e-3  # a different generator

    # Resumed under a command with another --ema-decay, each run keeps its own setting.
    other = run.argparse.Namespace(**{**vars(args), "ema_decay": 0.99})
    assert run.make(other, "ring8_r1", 2, 1, tmp_path / "plain").optim.ema_decay is None
    assert run.make(other, "ring8_r1", 2, 1, tmp_path / "ema").optim.ema_decay == 0.9
