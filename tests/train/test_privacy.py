"""Differentially private training: clipping and noise against a hand-written loop, the DP
step against per-example gradients, Poisson sampling, the accountant against closed forms and
published values, and a private run resumed bit-identical, its epsilon with it."""

import dataclasses
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy.stats import norm

from gen_jax import data as gdata
from gen_jax import optim
from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, PrivacyConfig, TrainConfig
from gen_jax.models import GANConfig, VAEConfig
from gen_jax.train import (
    DPSettings,
    Preempted,
    TrainState,
    epsilon_spent,
    load_run,
    make_train_step,
    noise_for_epsilon,
    private_gradient,
    run_privacy,
    train,
)

from .conftest import identity_preprocess

pytest.importorskip("dp_accounting", reason="the privacy extra is not installed")


def test_clipping_and_noise_against_a_hand_written_loop():
    rng = np.random.default_rng(0)
    scale = np.array([1, 9, 0.1, 4, 2])[:, None, None]  # some rows clipped, some not
    grads = {"w": (rng.normal(size=(5, 3, 2)) * scale).astype(np.float32),
             "b": rng.normal(size=(5, 2)).astype(np.float32)}
    weights = np.array([1, 1, 1, 0, 1], np.float32)  # row 3 is padding
    settings, key = DPSettings(clip_norm=1.5, noise_multiplier=0.7, expected_batch=4.0), \
        jax.random.PRNGKey(3)
    got, norms = private_gradient(grads, weights, settings, key)
    total = {k: np.zeros(v.shape[1:]) for k, v in grads.items()}
    for i in range(5):
        n = math.sqrt(sum(float(np.sum(np.float64(v[i]) ** 2)) for v in grads.values()))
        assert norms[i] == pytest.approx(n, rel=1e-5)
        if weights[i]:
            for k in total:
                total[k] += grads[k][i] * min(1.0, 1.5 / n)
    leaves, tree = jax.tree.flatten(total)
    keys = jax.random.split(key, len(leaves))
    noise = jax.tree.unflatten(tree, [0.7 * 1.5 * np.asarray(jax.random.normal(k, v.shape))
                                      for k, v in zip(keys, leaves, strict=True)])
    for k in total:
        np.testing.assert_allclose(got[k], (total[k] + noise[k]) / 4.0, rtol=1e-5, atol=1e-6)


def test_clipped_sum_in_two_passes_equals_the_per_example_gradients():
    # 7 rows in chunks of 4 (the last chunk short); a loss with its own key.
    rng = np.random.default_rng(2)
    params = {"w": rng.normal(size=(3, 2)).astype(np.float32),
              "b": rng.normal(size=2).astype(np.float32)}
    x = (rng.normal(size=(7, 3)) * np.array([1, 8, 0.1, 3, 1, 5, 0.2])[:, None]).astype(
        np.float32)
    keys = jax.random.split(jax.random.PRNGKey(4), 7)
    weights = np.array([1, 1, 0, 1, 1, 1, 1], np.float32)

    def example_loss(p, row):
        x_i, key = row
        noise = jax.random.normal(key, (2,))
        loss = jnp.sum(jnp.tanh(x_i @ p["w"] + p["b"]) * noise) + jnp.sum(x_i ** 2)
        return loss, {"twice": 2 * loss}

    got, norms, (losses, aux) = jax.jit(
        lambda p: optim.clipped_gradient_sum(example_loss, p, (x, keys), weights, 0.5,
                                             norm_chunk=4))(params)
    per_example = jax.vmap(jax.grad(lambda p, r: example_loss(p, r)[0]), in_axes=(None, 0))(
        params, (x, keys))
    settings = DPSettings(clip_norm=0.5, noise_multiplier=0.0, expected_batch=1.0)
    want, want_norms = private_gradient(per_example, weights, settings, jax.random.PRNGKey(0))
    np.testing.assert_allclose(norms, want_norms, rtol=1e-5, atol=1e-5)  # (a saturated tanh:
    # one build's gradient is 0 where another's is 6e-6)
    assert np.sum(np.asarray(norms) > 0.5) >= 2 and np.sum(np.asarray(norms) < 0.5) >= 2
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5), got, want)
    np.testing.assert_allclose(aux["twice"], 2 * losses)
    np.testing.assert_allclose(
        losses, [example_loss(params, (x[i], keys[i]))[0] for i in range(7)], rtol=1e-6)


def test_private_step_is_dp_sgd_on_per_example_gradients(tiny_model):
    batch = {"x": np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32),
             "weight": np.array([1, 0, 1, 1, 1, 0], np.float32)}
    params = tiny_model.init(jax.random.PRNGKey(0), {"x": batch["x"]})["params"]
    state = TrainState.create(params=params, tx=optax.sgd(1.0), rng=jax.random.PRNGKey(1))
    settings = DPSettings(clip_norm=0.05, noise_multiplier=0.5, expected_batch=4.0)
    new, metrics = jax.jit(make_train_step(tiny_model, identity_preprocess, privacy=settings))(
        state, batch)
    # By hand: each example's own gradient with its own key, then DP-SGD's noisy clipped mean.
    _, key_loss, key_noise = jax.random.split(jax.random.fold_in(state.rng, 0), 3)
    keys = jax.random.split(key_loss, 6)
    grad = jax.jit(jax.grad(lambda p, x, k: tiny_model.loss({"params": p}, {"x": x}, k,
                                                           train=True)[0]))
    per_example = [grad(params, batch["x"][i:i + 1], keys[i]) for i in range(6)]
    stacked = jax.tree.map(lambda *g: np.stack(g), *per_example)
    grads, norms = private_gradient(stacked, batch["weight"], settings, key_noise)
    jax.tree.map(lambda a, p, g: np.testing.assert_allclose(a, p - g, rtol=1e-5, atol=1e-6),
                 new.params, params, grads)
    assert float(metrics["privacy/batch"]) == 4.0
    assert float(metrics["privacy/clipped"]) == np.mean(np.asarray(norms)[[0, 2, 3, 4]] > 0.05)


def test_poisson_loader_draws_each_example_at_its_rate_and_resumes():
    info = gdata.DatasetInfo(name="toy", shape=(2,), num_classes=0, num_levels=None,
                             splits={"train": 1000})
    ds = gdata.ArrayDataset(info, "train", np.arange(2000, dtype=np.float32).reshape(1000, 2),
                            np.arange(1000, dtype=np.int32))
    loader = gdata.PoissonLoader(ds, 50, seed=4, multiple=8)
    assert loader.capacity % 8 == 0 and loader.capacity >= 50 + 6 * math.sqrt(50 * 0.95)
    counts, sizes = np.zeros(1000), []
    for step in range(400):
        b = next(loader)
        drawn = b["label"][b["weight"] == 1]
        assert b["x"].shape == (loader.capacity, 2) and (b["weight"][len(drawn):] == 0).all()
        np.testing.assert_array_equal(b["x"][:len(drawn), 0], 2 * drawn)
        np.testing.assert_array_equal(drawn, loader.indices(step))
        counts[drawn] += 1
        sizes.append(len(drawn))
    assert np.mean(sizes) == pytest.approx(50, abs=1.0)  # 400 draws: standard error 0.35
    assert np.std(sizes) == pytest.approx(math.sqrt(50 * 0.95), rel=0.15)
    assert counts.mean() / 400 == pytest.approx(0.05, rel=0.03)
    again = gdata.PoissonLoader(ds, 50, seed=4, multiple=8)
    again.restore({"step": 399})
    np.testing.assert_array_equal(next(again)["label"], b["label"])
    small = gdata.PoissonLoader(ds, 50, seed=4, capacity=10)
    assert (next(small)["weight"] == 1).all() and small.truncated == 1
    with pytest.raises(gdata.DataError, match="is not a Poisson loader's: was the run trained "
                                              "without differential privacy"):
        small.restore({"epoch": 0, "batch": 3})


def test_accountant_against_closed_form_and_published_values():
    # Abadi et al. 2016, section 3.1: q = 0.01, sigma = 4, T = 10,000, delta = 1e-5 gives
    # epsilon 1.26 with their moments accountant (9.34 by strong composition); Renyi DP
    # composes the same moments with a tighter conversion, PLD tighter still.
    rdp = epsilon_spent(4.0, 0.01, 10_000, 1e-5, "rdp")
    pld = epsilon_spent(4.0, 0.01, 10_000, 1e-5, "pld")
    assert 0.9 < pld < rdp < 1.26
    # Without subsampling, T Gaussian steps are one Gaussian mechanism of sigma / sqrt(T),
    # whose exact delta(epsilon) is known (Balle & Wang 2018): PLD reproduces it.
    sigma, steps = 2.0, 4
    eps = epsilon_spent(sigma, 1.0, steps, 1e-5, "pld")
    s = sigma / math.sqrt(steps)
    delta = norm.cdf(-eps * s + 1 / (2 * s)) - math.exp(eps) * norm.cdf(-eps * s - 1 / (2 * s))
    assert delta == pytest.approx(1e-5, rel=1e-3)
    found = noise_for_epsilon(2.0, 0.05, 200, 1e-5)
    assert epsilon_spent(found, 0.05, 200, 1e-5) <= 2.0 < epsilon_spent(found * 0.99, 0.05,
                                                                          200, 1e-5)
    with pytest.raises(ValueError, match="out of reach"):
        noise_for_epsilon(1e-4, 1.0, 10, 1e-5)


def _cfg(workdir, steps, **privacy):
    return ExperimentConfig(
        model=VAEConfig(hidden=(16,), latent_dim=2),
        data=DataConfig(name="digits", batch_size=32), optim=OptimConfig(),
        privacy=PrivacyConfig(**privacy),
        train=TrainConfig(workdir=str(workdir), steps=steps, progress=False, log_every=2,
                          eval_every=1000, sample_every=1000, checkpoint_every=3))


def test_private_run_resumes_bit_identical_with_its_epsilon(tmp_path, monkeypatch):
    final = train(_cfg(tmp_path / "straight", 6, target_epsilon=2.0), "vae")
    monkeypatch.setenv("GEN_JAX_FAULT_TERM_AT_STEP", "3")  # preempted after step 3
    with pytest.raises(Preempted):
        train(_cfg(tmp_path / "resumed", 6, target_epsilon=2.0), "vae")
    monkeypatch.delenv("GEN_JAX_FAULT_TERM_AT_STEP")
    resumed = train(_cfg(tmp_path / "resumed", 6, target_epsilon=2.0), "vae")
    a, b = (load_run(tmp_path / name).state.params for name in ("straight", "resumed"))
    jax.tree.map(np.testing.assert_array_equal, a, b)
    plans = [json.loads((tmp_path / name / "privacy.json").read_text())
             for name in ("straight", "resumed")]
    assert plans[0] == plans[1] and plans[0]["planned_steps"] == 6
    assert resumed["privacy/epsilon"] == final["privacy/epsilon"] == pytest.approx(
        run_privacy(tmp_path / "resumed", 6)["epsilon"])
    assert final["privacy/epsilon"] <= 2.0 + 1e-9 and final["privacy/delta"] == 1e-5
    logged = [json.loads(line) for line in (tmp_path / "straight" / "metrics.jsonl")
              .read_text().splitlines()]
    eps = [r["train/privacy/epsilon"] for r in logged if "train/privacy/epsilon" in r]
    assert eps == sorted(eps) and len(eps) == 3  # steps 2, 4, 6: spent as it goes


def test_settings_privacy_does_not_cover_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="set privacy.target_epsilon or privacy.noise_multiplier"
                                         ", not both"):
        PrivacyConfig(target_epsilon=1.0, noise_multiplier=1.0)
    with pytest.raises(ValueError, match="privacy.delta must lie in"):
        PrivacyConfig(delta=0.0)
    gan = dataclasses.replace(_cfg(tmp_path / "gan", 2, noise_multiplier=1.0),
                              model=GANConfig(n_critic=2), data=DataConfig(name="ring8",
                                                                           batch_size=32))
    with pytest.raises(ValueError, match="set --model.n-critic 1"):
        train(gan, "gan")


def test_a_private_gan_trains_its_discriminator_under_the_accountant(tmp_path):
    # The engine's DP path through a family's own update: Poisson batches, the mechanism
    # recorded, epsilon spent as the VAE's, the discriminator's clipping logged; a conditional
    # GAN with spectral norm and R1, so the per-pair penalty and the weight-only spectral-norm
    # vectors go through the private update too.
    cfg = dataclasses.replace(
        _cfg(tmp_path, 4, noise_multiplier=1.0, clip_norm=0.1),
        model=GANConfig(latent_dim=2, g_hidden=(16,), d_hidden=(8,), d_maxout_pieces=2,
                        conditional=True, spectral_norm=True, r1_weight=1.0),
        data=DataConfig(name="ring8", batch_size=32))
    final = train(cfg, "gan")
    plan = json.loads((tmp_path / "privacy.json").read_text())
    assert plan["noise_multiplier"] == 1.0 and plan["sampling_rate"] == pytest.approx(
        32 / plan["num_train"])
    assert final["privacy/epsilon"] == pytest.approx(
        epsilon_spent(1.0, plan["sampling_rate"], 4, 1e-5))
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    clipped = [r["train/privacy/clipped"] for r in logged if "train/privacy/clipped" in r]
    assert clipped and all(0.0 <= c <= 1.0 for c in clipped)
    r1 = [r["train/r1"] for r in logged if "train/r1" in r]
    assert r1 and all(v > 0 for v in r1)
    state = load_run(tmp_path).state
    assert int(state.skipped) == 0 and jax.tree.leaves(state.batch_stats["discriminator"])
