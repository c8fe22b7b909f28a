"""Probabilistic PCA, the extending guide's example family, against closed forms."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from gen_jax import models
from gen_jax.config import DataConfig
from gen_jax.data import DatasetInfo

VECTORS = DatasetInfo("vectors", (6,), 0, None)


def _ppca(dtype=jnp.float32):
    return models.build("ppca", models.FAMILIES["ppca"].config(latent_dim=2), VECTORS,
                        dtype=dtype)


def _params(rng, dim=6, k=2, dtype=np.float64):
    return {"params": {"w": jnp.asarray(rng.normal(size=(dim, k)), dtype),
                       "mu": jnp.asarray(rng.normal(size=dim), dtype),
                       "log_sigma": jnp.asarray(np.log(0.7), dtype)}}


def test_log_prob_is_the_marginal_gaussian():
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        model = _ppca(jnp.float64)
        variables = _params(rng)
        x = rng.normal(size=(5, 6))
        got = np.asarray(model.log_prob(variables, jnp.asarray(x)))
    p = jax.tree.map(np.asarray, variables["params"])
    cov = p["w"] @ p["w"].T + 0.49 * np.eye(6)
    want = scipy.stats.multivariate_normal(p["mu"], cov).logpdf(x)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_the_closed_form_maximum_likelihood_solution_is_a_stationary_point():
    # Tipping & Bishop (1999): mu = mean, sigma^2 = mean of the discarded eigenvalues of the
    # sample covariance, W = U_k (L_k - sigma^2 I)^(1/2). The mean log-likelihood's gradient
    # there is zero, and it beats a perturbed W.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6)) + 2.0
    cov = np.cov(x, rowvar=False, bias=True)
    lam, u = np.linalg.eigh(cov)
    lam, u = lam[::-1], u[:, ::-1]
    sigma2 = lam[2:].mean()
    w = u[:, :2] * np.sqrt(lam[:2] - sigma2)
    with jax.enable_x64(True):
        model = _ppca(jnp.float64)
        ml = {"params": {"w": jnp.asarray(w), "mu": jnp.asarray(x.mean(0)),
                         "log_sigma": jnp.asarray(0.5 * np.log(sigma2))}}
        batch = {"x": jnp.asarray(x)}
        loss = lambda v: model.loss(v, batch, jax.random.PRNGKey(0))[0]  # noqa: E731
        grads = jax.grad(loss)(ml)
        worse = jax.tree.map(lambda a: a, ml)
        worse["params"]["w"] = ml["params"]["w"] * 1.05
        assert float(loss(worse)) > float(loss(ml))
    for g in jax.tree.leaves(grads):
        np.testing.assert_allclose(np.asarray(g), 0.0, atol=1e-10)


def test_reconstruction_is_the_projection_at_vanishing_noise():
    # As sigma -> 0, W E[z|x] + mu is the orthogonal projection onto span(W), shifted by mu.
    rng = np.random.default_rng(2)
    with jax.enable_x64(True):
        model = _ppca(jnp.float64)
        variables = _params(rng)
        variables["params"]["log_sigma"] = jnp.asarray(-12.0)
        x = rng.normal(size=(4, 6))
        got = np.asarray(model.reconstruct(variables, jnp.asarray(x)))
    p = jax.tree.map(np.asarray, variables["params"])
    q, _ = np.linalg.qr(p["w"])
    want = (x - p["mu"]) @ q @ q.T + p["mu"]
    np.testing.assert_allclose(got, want, atol=1e-8)


def test_samples_have_the_model_covariance():
    rng = np.random.default_rng(3)
    model = _ppca()
    variables = _params(rng, dtype=np.float32)
    draws = np.asarray(model.sample(variables, jax.random.PRNGKey(0), 40_000), np.float64)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), variables["params"])
    np.testing.assert_allclose(draws.mean(0), p["mu"], atol=0.05)
    np.testing.assert_allclose(np.cov(draws, rowvar=False),
                               p["w"] @ p["w"].T + 0.49 * np.eye(6), atol=0.08)


def test_bad_settings_are_one_line_errors():
    cfg = models.FAMILIES["ppca"].config
    with pytest.raises(ValueError, match=r"latent_dim must be in \[1, 6\]"):
        models.build("ppca", cfg(latent_dim=7), VECTORS)
    digits = DatasetInfo("digits", (8, 8, 1), 10, 17)
    with pytest.raises(ValueError, match="drop data.binarize"):
        models.build("ppca", cfg(), digits).check_data(DataConfig(binarize=True))


def test_the_engine_trains_samples_and_evaluates_it_from_the_command_line(tmp_path):
    # Registered with one line, the family gets training, checkpoints, sampling and the report.
    from gen_jax import cli  # everything in this process

    assert cli.main(["train", "ppca", "--model.latent-dim", "4", "--train.steps", "400",
                     "--optim.learning-rate", "0.03", "--train.log-every", "100",
                     "--train.eval-every", "1000", "--data.batch-size", "64",
                     "--train.no-progress", "--train.workdir", str(tmp_path)]) == 0
    final = json.loads((tmp_path / "final_metrics.json").read_text())
    # Uniform over the 17 grey levels is log2(17) = 4.09 bits/dim; the closed-form maximum
    # likelihood PPCA with k = 4 scores 3.85 on the dequantized training set (numpy, scipy).
    assert 3.8 < final["bpd"] < 3.95

    assert cli.main(["sample", "--workdir", str(tmp_path), "--num", "4", "--npy",
                     str(tmp_path / "s.npy"), "--temperature", "0.5", "--out",
                     str(tmp_path / "s.png")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (4, 8, 8, 1)
    assert cli.main(["eval", "--workdir", str(tmp_path), "--no-quality", "--num-examples",
                     "100"]) == 0
    report = json.loads((tmp_path / "eval_test.json").read_text())
    assert report["likelihood"]["kind"] == "exact"
    assert report["likelihood"]["nll"] == pytest.approx(report["likelihood"]["bpd"] * 64
                                                        * np.log(2), rel=1e-5)
