"""The feature-matching GAN classifier (Salimans et al. 2016): losses by hand, its layers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import models
from gen_jax.data import DatasetInfo
from gen_jax.models.ssl_gan import WNDense, discriminator_losses, feature_matching

IMAGES = DatasetInfo("tiny", (4, 4, 1), 3, 256, {"train": 10})


def _softplus(t):
    return np.logaddexp(0.0, t)


def test_the_discriminator_losses_match_a_hand_computation():
    rng = np.random.default_rng(0)
    logits, fake = rng.normal(size=(4, 3)) * 2, rng.normal(size=(5, 3)) * 2
    label = np.array([2, -1, 0, -1])
    loss_lab, loss_unl = discriminator_losses(jnp.asarray(logits), jnp.asarray(label),
                                              jnp.asarray(label >= 0), jnp.asarray(fake))
    lse = np.log(np.sum(np.exp(logits), axis=1))
    lse_fake = np.log(np.sum(np.exp(fake), axis=1))
    # cross-entropy of the two labelled rows; real-vs-fake (the fake logit at 0) over the two
    # unlabelled rows, -log D(x) = softplus(lse) - lse, and the fakes, -log(1 - D) = softplus
    expected_lab = np.mean([lse[0] - logits[0, 2], lse[2] - logits[2, 0]])
    expected_unl = (0.5 * np.mean(_softplus(lse[[1, 3]]) - lse[[1, 3]])
                    + 0.5 * np.mean(_softplus(lse_fake)))
    np.testing.assert_allclose(loss_lab, expected_lab, rtol=1e-6)
    np.testing.assert_allclose(loss_unl, expected_unl, rtol=1e-6)
    # Fully labelled data: every row is a real example.
    _, everything = discriminator_losses(jnp.asarray(logits), jnp.asarray([0, 1, 2, 0]),
                                         jnp.ones(4, bool), jnp.asarray(fake))
    np.testing.assert_allclose(everything, 0.5 * np.mean(_softplus(lse) - lse)
                               + 0.5 * np.mean(_softplus(lse_fake)), rtol=1e-6)
    real = jnp.asarray(label < 0)
    np.testing.assert_allclose(feature_matching(jnp.asarray(logits), jnp.asarray(fake), real),
                               np.mean((fake.mean(0) - logits[[1, 3]].mean(0)) ** 2), rtol=1e-6)


def test_weight_normalized_layers_start_normalized_on_their_data():
    x = jnp.asarray(np.random.default_rng(1).normal(3.0, 2.0, (64, 5)), jnp.float32)
    layer = WNDense(4)
    variables = layer.init(jax.random.PRNGKey(0), x)
    out = layer.apply(variables, x)
    np.testing.assert_allclose(jnp.mean(out, 0), 0.0, atol=1e-5)
    np.testing.assert_allclose(jnp.std(out, 0), 1.0, rtol=1e-4)
    p = variables["params"]
    v = np.asarray(p["kernel"])
    w = v / np.linalg.norm(v, axis=0) * np.asarray(p["scale"])
    np.testing.assert_allclose(out, np.asarray(x) @ w + np.asarray(p["bias"]), rtol=1e-4,
                               atol=1e-4)


def test_an_update_moves_both_players_and_the_generator_statistics():
    model = models.build("ssl_gan", models.SSLGANConfig(latent_dim=3, g_hidden=(6,),
                                                        d_hidden=(5, 4)), IMAGES)
    from gen_jax.config import DataConfig, OptimConfig
    from gen_jax.train import TrainState, make_preprocess, make_train_step

    preprocess = make_preprocess(IMAGES, DataConfig(), model)
    rng = np.random.default_rng(2)
    batch = {"x": rng.integers(0, 256, (6, 4, 4, 1), dtype=np.uint8),
             "label": np.array([0, 1, 2, -1, -1, -1], np.int32)}
    variables = model.init(jax.random.PRNGKey(0), preprocess(batch, jax.random.PRNGKey(1)))
    state = TrainState.create(params=variables["params"], batch_stats=variables["batch_stats"],
                              tx=model.make_optimizer(OptimConfig(learning_rate=1e-2), 5),
                              rng=jax.random.PRNGKey(3))
    new, metrics = jax.jit(make_train_step(model, preprocess))(state, batch)
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), new.params, state.params)
    assert all(jax.tree.leaves(moved["generator"]))
    hidden = [moved["discriminator"][f"WNDense_{i}"] for i in range(2)]  # scales stay fixed
    assert all(not m["scale"] and m["kernel"] and m["bias"] for m in hidden)
    assert all(moved["discriminator"]["WNDense_2"].values())
    assert not np.allclose(new.batch_stats["generator"]["BatchNorm_0"]["mean"], 0.0)
    assert float(metrics["labelled_share"]) == 0.5 and np.isfinite(float(metrics["g_loss"]))
    log_p = model.class_log_probs(new.variables(), preprocess(batch, jax.random.PRNGKey(1))["x"])
    np.testing.assert_allclose(jnp.sum(jnp.exp(log_p), axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(("config", "info", "message"), [
    (models.SSLGANConfig(), DatasetInfo("v", (4,), 0, 256, {}), "ssl_gan learns classes"),
    (models.SSLGANConfig(), DatasetInfo("v", (4,), 3, None, {}), "is continuous"),
    (models.SSLGANConfig(d_hidden=()), IMAGES, "d_hidden must be one or more sizes"),
    (models.SSLGANConfig(labelled_fraction=0.0), IMAGES, "labelled_fraction must lie in"),
])
def test_bad_configs_are_one_line(config, info, message):
    with pytest.raises(ValueError, match=message):
        models.build("ssl_gan", config, info)


def test_its_generator_takes_no_class():
    model = models.build("ssl_gan", models.SSLGANConfig(latent_dim=2, g_hidden=(4,),
                                                        d_hidden=(4,)), IMAGES)
    x = jnp.zeros((4, 4, 4, 1))
    variables = model.init(jax.random.PRNGKey(0), {"x": x})
    with pytest.raises(ValueError, match="does not take a class: sample without --label"):
        model.sample(variables, jax.random.PRNGKey(0), 2, jnp.asarray([0, 1]))


def test_a_fixed_scale_gets_no_gradient():
    x = jnp.asarray(np.random.default_rng(3).normal(size=(16, 5)), jnp.float32)
    layer = WNDense(4, train_scale=False)
    variables = layer.init(jax.random.PRNGKey(0), x)
    grads = jax.grad(lambda v: jnp.sum(layer.apply(v, x) ** 3))(variables)["params"]
    assert not np.any(grads["scale"]) and np.any(grads["kernel"]) and np.any(grads["bias"])
