"""Property optimization: the GP and expected improvement against closed forms, the oracle's
budget and cache, the latent predictor, the constrained task's similarity against RDKit, and
``gen-jax molecules optimize`` end to end on tiny QM9 runs."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("rdkit", reason="the molecules extra is not installed")
pytest.importorskip("tinygp", reason="the molecules extra is not installed")

from rdkit import Chem, DataStructs  # noqa: E402
from rdkit.Chem import QED, AllChem  # noqa: E402

from gen_jax import cli, train  # noqa: E402
from gen_jax.apps import molecules  # noqa: E402

from .conftest import QM9_RUNS_GROUP  # noqa: E402


def _matern52(a, b, params):
    scale = np.exp(np.asarray(params.log_scale, np.float64))
    r = np.sqrt((((a[:, None] - b[None]) / scale) ** 2).sum(-1))
    s = math.sqrt(5) * r
    return np.exp(2 * float(params.log_amp)) * (1 + s + s * s / 3) * np.exp(-s)


def test_gp_posterior_matches_the_closed_form_and_ignores_unused_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2)).astype(np.float32)
    y = np.sin(2 * x[:, 0]) + 0.05 * rng.normal(size=30)
    gp = molecules.fit_gp(x, y, capacity=45)  # 15 unused buffer rows
    assert gp.count == 30 and float(gp.params.log_scale[0]) < float(gp.params.log_scale[1])
    p, xt = gp.params, rng.normal(size=(6, 2))
    ys = (y - gp.y_mean) / gp.y_std
    k = _matern52(x, x, p) + np.exp(2 * float(p.log_noise)) * np.eye(30)
    ks = _matern52(xt, x, p)
    mean = float(p.mean) + ks @ np.linalg.solve(k, ys - float(p.mean))
    var = np.diag(_matern52(xt, xt, p) - ks @ np.linalg.solve(k, ks.T))
    got_mean, got_var = gp.predict(xt)
    np.testing.assert_allclose(got_mean, mean * gp.y_std + gp.y_mean, atol=2e-3)
    np.testing.assert_allclose(got_var, var * gp.y_std**2, atol=2e-3)
    # the same hyperparameters on an exact-size buffer give the same posterior
    same = molecules.fit_gp(x, y, init=p, rounds=0)
    np.testing.assert_allclose(same.predict(xt)[0], got_mean, atol=1e-4)
    grown = molecules.add_points(gp, xt[:2], np.array([0.5, math.nan]))
    assert grown.count == 31
    with pytest.raises(ValueError, match="buffer holds 45"):
        molecules.add_points(gp, np.zeros((16, 2)), np.zeros(16))


def test_expected_improvement_is_the_gaussian_expectation():
    rng = np.random.default_rng(1)
    mean, std, best = np.array([0.3, -1.0, 2.0]), np.array([0.5, 2.0, 0.1]), 0.8
    draws = mean + std * rng.normal(size=(400_000, 3))
    mc = np.maximum(draws - best, 0).mean(0)
    ei = molecules.expected_improvement(jnp.asarray(mean), jnp.asarray(std**2), best)
    np.testing.assert_allclose(np.asarray(ei), mc, rtol=0.02)


def test_proposals_maximize_ei_in_the_box_and_spread_out():
    x = np.array([[-2.0], [-1.0], [0.2], [1.5]], np.float32)
    y = -(x[:, 0] - 0.8) ** 2
    gp = molecules.fit_gp(x, y, capacity=7)
    grid = np.linspace(-2.5, 2.5, 2001, dtype=np.float32)[:, None]
    mean, var = gp.predict(grid)
    ys_best = (y.max() - gp.y_mean) / gp.y_std
    ei = molecules.expected_improvement(jnp.asarray((mean - gp.y_mean) / gp.y_std),
                                        jnp.asarray(var / gp.y_std**2), ys_best)
    points = molecules.propose(gp, jax.random.PRNGKey(0), 3, low=np.array([-2.5]),
                               high=np.array([2.5]), candidates=64, restarts=4)
    assert points.shape == (3, 1) and np.all(np.abs(points) <= 2.5)
    found = molecules.expected_improvement(
        *(jnp.asarray(v) for v in ((gp.predict(points[:1])[0] - gp.y_mean) / gp.y_std,
                                   gp.predict(points[:1])[1] / gp.y_std**2)), ys_best)
    assert float(found[0]) >= 0.97 * float(np.max(ei))  # the global maximum, to the grid's step
    assert len({round(float(p), 3) for p in points[:, 0]}) == 3  # the believer moves on
    with pytest.raises(ValueError, match="do not fit"):
        molecules.propose(gp, jax.random.PRNGKey(0), 4, low=np.array([-1.0]),
                          high=np.array([1.0]))


def test_oracle_counts_distinct_valid_molecules_within_budget_and_cap():
    obj = molecules.objective("qed", max_heavy_atoms=10)
    oracle = molecules.Oracle(obj, budget=2)
    scores = oracle(["CCO", "OCC", "not a smiles", "C" * 11, "c1ccccc1", "CCN"])
    assert oracle.calls == 2 and oracle.remaining == 0
    assert scores[0] == scores[1] == pytest.approx(QED.qed(Chem.MolFromSmiles("CCO")))
    assert np.isnan(scores[2:4]).all() and np.isnan(scores[5])  # invalid, over the cap, past budget
    assert oracle.best(5)[0][0] in ("CCO", "c1ccccc1") and len(oracle.history) == 2
    assert oracle(["CCO"])[0] == scores[0]  # the cache answers past the budget
    assert math.isnan(molecules.objective("weight", max_heavy_atoms=None).score(""))
    own = molecules.objective("rdkit.Chem.Descriptors:NumHDonors")
    assert own.score("OCCN") == 2.0
    assert molecules.objective("-rdkit.Chem.Descriptors:NumHDonors").score("OCCN") == -2.0
    assert molecules.objective("-sa").score("CCO") == -molecules.objective("sa").score("CCO")
    with pytest.raises(ValueError, match="unknown molecular property 'potency'"):
        molecules.objective("potency")
    with pytest.raises(ValueError, match="cannot import nothing"):
        molecules.objective("rdkit.Chem:nothing")
    with pytest.raises(ValueError, match="budget must be positive"):
        molecules.Oracle(obj, budget=0)


def test_predictor_learns_a_linear_property_and_its_gradient_path_climbs():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(600, 4)).astype(np.float32)
    y = 2.0 * z[:, 0] - z[:, 1] + 1.0
    pred = molecules.fit_predictor(z, y, jax.random.PRNGKey(0), hidden=32, steps=600)
    assert pred.valid_rmse < 0.25 * np.std(y)
    path = molecules.gradient_path(pred, z[:5], steps=10, learning_rate=0.05)
    values = np.stack([np.asarray(pred(jnp.asarray(p))) for p in path])
    assert path.shape == (11, 5, 4) and np.all(np.diff(values, axis=0) > 0)
    step = path[-1] - path[0]
    assert np.all(step[:, 0] > 0) and np.all(step[:, 1] < 0)  # along +z0 and -z1


def test_similarity_is_rdkit_tanimoto_on_morgan_2048():
    pairs = [("CCOc1ccccc1", "CCOc1ccccc1C"), ("CCO", "c1ccncc1"), ("CCN", "CCN")]
    for a, b in pairs:
        fa, fb = (AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles(s), 2, nBits=2048)
                  for s in (a, b))
        assert molecules.similarity(a, b) == pytest.approx(DataStructs.TanimotoSimilarity(fa, fb))
    assert math.isnan(molecules.similarity("CCO", "C1CC"))


def test_reward_map_and_the_augmented_likelihood_loss():
    reward = molecules.reward_map(-2.0, 8.0)
    np.testing.assert_allclose(reward(np.array([-5.0, 3.0, 9.0, math.nan])), [0, 0.5, 1, 0])
    loss = molecules.augmented_loss(jnp.array([-10.0, -20.0]), jnp.array([-12.0, -18.0]),
                                    jnp.array([0.1, 0.0]), 20.0)
    assert float(loss) == pytest.approx(((-12 + 2 + 10) ** 2 + (-18 + 20) ** 2) / 2)
    with pytest.raises(ValueError, match="high > low"):
        molecules.reward_map(1.0, 1.0)


def _optimize(capsys, *args):
    capsys.readouterr()
    assert cli.main(["molecules", "optimize", *args]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.xdist_group(QM9_RUNS_GROUP)
def test_optimize_latent_methods_on_a_tiny_molvae(qm9_runs, data_dir, tmp_path, capsys):
    starts = qm9_runs["starts"]
    common = ["--workdir", str(qm9_runs["molvae"]), "--data-dir", str(data_dir),
              "--labelled", "60", "--objective", "qed", "--predictor-steps", "50"]
    bo = _optimize(capsys, *common, "--method", "bo", "--iterations", "2", "--batch", "3",
                   "--budget", "4", "--out", str(tmp_path / "bo"))
    assert bo["labelled"] > 10 and bo["iterations"] <= 2 and bo["oracle_calls"] <= 4
    rows = (tmp_path / "bo" / "scored.csv").read_text().splitlines()
    assert rows[0] == "SMILES,score,call" and len(rows) == bo["oracle_calls"] + 1
    assert json.loads((tmp_path / "bo" / "result.json").read_text()) == bo
    scores = [t["score"] for t in bo["top3"]]
    assert scores == sorted(scores, reverse=True)
    grad = _optimize(capsys, *common, "--method", "gradient", "--steps", "3", "--starts", "4",
                     "--budget", "5", "--out", str(tmp_path / "gradient"))
    assert grad["starts"] == 4 and grad["oracle_calls"] <= 5 and grad["predictor_valid_rmse"] > 0
    con = _optimize(capsys, *common, "--method", "constrained", "--objective", "penalized_logp",
                    "--steps", "3", "--starts-from", str(starts), "--delta", "0.3",
                    "--out", str(tmp_path / "constrained"))
    table = (tmp_path / "constrained" / "constrained.csv").read_text().splitlines()
    assert con["starts_read"] == con["constrained"]["molecules"] == len(table) - 1 >= 2
    for row in table[1:]:
        start, start_score, best, best_score, sim, _, _ = row.split(",")
        assert float(best_score) >= float(start_score)
        assert (best == start and float(sim) == 1.0) or float(sim) >= 0.3


@pytest.mark.xdist_group(QM9_RUNS_GROUP)
def test_optimize_reinvent_and_bad_input(qm9_runs, data_dir, tmp_path, capsys):
    charrnn, molvae = str(qm9_runs["charrnn"]), str(qm9_runs["molvae"])
    run = _optimize(capsys, "--workdir", charrnn, "--method", "reinvent",
                    "--objective", "qed", "--budget", "6", "--batch-size", "8", "--max-steps",
                    "40", "--out", str(tmp_path / "reinvent"))
    assert run["oracle_calls"] <= 6 and 1 <= run["steps"] <= 40 and run["reward_range"] == [0, 1]
    # The agent is a run of its own, sampled like any other; its prior is left as it was.
    agent, prior = train.load_run(run["agent"]), train.load_run(charrnn)
    assert agent.model_name == "charrnn" and int(agent.state.step) == int(prior.state.step)
    moved = jax.tree.leaves(jax.tree.map(lambda a, b: bool(np.any(np.asarray(a) != b)),
                                         agent.state.params, prior.state.params))
    assert any(moved)
    assert json.loads((tmp_path / "reinvent" / "agent" / "origin.json").read_text())[
        "steps"] == run["steps"]
    bad = [
        (["--workdir", charrnn, "--method", "bo"], "needs a family with LatentCode"),
        (["--workdir", molvae, "--method", "reinvent", "--objective", "qed"],
         "needs a family with ExactLikelihood"),
        (["--workdir", molvae, "--method", "bo", "--objective", "potency"],
         "unknown molecular property"),
        (["--workdir", charrnn, "--method", "reinvent", "--objective", "sa"],
         "--reward-range LOW HIGH is needed"),
        (["--workdir", molvae, "--method", "constrained", "--delta", "1.5"],
         "--delta must lie in"),
        (["--workdir", molvae, "--method", "constrained", "--labelled", "20"],
         "pass --starts-from"),
    ]
    for args, message in bad:
        capsys.readouterr()
        assert cli.main(["molecules", "optimize", "--data-dir", str(data_dir), *args,
                         "--out", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert cli.main(["molecules", "optimize", "--workdir", charrnn, "--method", "reinvent",
                     "--objective", "qed", "--out", str(tmp_path / "reinvent")]) == 2
    assert "holds the agent of an earlier REINVENT run" in capsys.readouterr().err
