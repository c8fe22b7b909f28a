"""M2 (Kingma et al. 2014): its objective against a hand computation, and its contract."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from gen_jax import models
from gen_jax.config import OptimConfig
from gen_jax.data import DatasetInfo
from gen_jax.models.m2 import M2Net, class_bounds, m2_terms

BITS = DatasetInfo("bits", (5,), 3, 2, {"train": 6})
CONFIG = models.M2Config(hidden=(6,), classifier_hidden=(4,), latent_dim=2, alpha=0.3)


@pytest.fixture(scope="module")
def tiny():
    """``(model, float64 variables, x, label, eps)``: 4 examples, 2 of them labelled."""
    with jax.enable_x64(True):
        model = models.build("m2", CONFIG, BITS, dtype=jnp.float64)
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.integers(0, 2, (4, 5)), jnp.float64)
        variables = model.init(jax.random.PRNGKey(0), {"x": x})
        # larger weights than the initializer's, so that the classes differ clearly
        variables = jax.tree.map(lambda v: v * 3.0, variables)
        eps = jnp.asarray(rng.standard_normal((4, 3, 2)))
    return model, variables, x, jnp.asarray([2, -1, 0, -1], jnp.int32), eps


def _by_hand(model, variables, x, label, eps, alpha):
    """The per-example loss from the networks' outputs, one example and class at a time."""
    with jax.enable_x64(True):
        return _by_hand64(model, variables, x, label, eps, alpha)


def _by_hand64(model, variables, x, label, eps, alpha):
    net = model.net
    log_q = np.asarray(jax.nn.log_softmax(net.apply(variables, x, method=M2Net.classify)))
    bounds = np.zeros((4, 3))
    for i in range(4):
        for c in range(3):
            onehot = jax.nn.one_hot(jnp.asarray([c]), 3, dtype=jnp.float64)
            mean, log_var = (np.asarray(a)[0] for a in net.apply(
                variables, x[i:i + 1], onehot, method=M2Net.encode))
            z = mean + np.exp(log_var / 2) * np.asarray(eps[i, c])
            logits = np.asarray(net.apply(variables, jnp.asarray(z[None]), onehot,
                                          method=M2Net.decode)[0])[0]
            xi = np.asarray(x[i])
            log_px = np.sum(-xi * np.logaddexp(0, -logits)
                            - (1 - xi) * np.logaddexp(0, logits))
            kl = 0.5 * np.sum(mean**2 + np.exp(log_var) - 1 - log_var)
            bounds[i, c] = log_px - kl + np.log(1 / 3)
    share = np.mean(np.asarray(label) >= 0)
    loss = []
    for i, y in enumerate(np.asarray(label)):
        if y >= 0:
            loss.append(-bounds[i, y] - alpha / share * log_q[i, y])
        else:
            q = np.exp(log_q[i])
            loss.append(-(np.sum(q * bounds[i]) - np.sum(q * log_q[i])))
    return np.asarray(loss), bounds, log_q


def test_the_objective_matches_a_hand_computation_of_both_terms(tiny):
    model, variables, x, label, eps = tiny
    with jax.enable_x64(True):
        terms = m2_terms(model.net, variables, x, label, eps, CONFIG.alpha)
        bounds = class_bounds(model.net, variables, x, eps)
    loss, hand_bounds, log_q = _by_hand(model, variables, x, label, eps, CONFIG.alpha)
    np.testing.assert_allclose(bounds, hand_bounds, rtol=1e-10)
    np.testing.assert_allclose(terms.loss, loss, rtol=1e-10)
    np.testing.assert_allclose(terms.class_nll, [-log_q[0, 2], 0, -log_q[2, 0], 0], rtol=1e-10)
    # U(x) <= log sum_y exp L(x, y) (Gibbs), equal when q(y | x) is the posterior over classes.
    assert np.all(np.asarray(terms.bound) <= logsumexp(hand_bounds, axis=1) + 1e-12)
    with jax.enable_x64(True):
        at_posterior = jnp.sum(jax.nn.softmax(bounds) * (bounds - jax.nn.log_softmax(bounds)),
                               axis=1)
    np.testing.assert_allclose(at_posterior, logsumexp(hand_bounds, axis=1), rtol=1e-10)


def test_the_loss_is_the_batch_mean_with_its_own_draws_and_its_metrics(tiny):
    model, variables, x, label, _ = tiny
    key = jax.random.PRNGKey(7)
    with jax.enable_x64(True):
        loss, (metrics, updated) = model.loss(variables, {"x": x, "label": label}, key)
        eps = jax.random.normal(key, (4, 3, 2), jnp.float64)
    hand, bounds, log_q = _by_hand(model, variables, x, label, eps, CONFIG.alpha)
    assert updated == {}
    np.testing.assert_allclose(loss, hand.mean(), rtol=1e-10)
    np.testing.assert_allclose(metrics["class_nll"], -(log_q[0, 2] + log_q[2, 0]) / 2,
                               rtol=1e-10)
    np.testing.assert_allclose(metrics["labelled_share"], 0.5)


def test_a_fully_labelled_batch_is_a_conditional_vae_plus_a_classifier(tiny):
    model, variables, x, _, eps = tiny
    label = jnp.asarray([0, 1, 2, 1], jnp.int32)
    with jax.enable_x64(True):
        terms = m2_terms(model.net, variables, x, label, eps, 0.5)
        bounds = class_bounds(model.net, variables, x, eps)
        log_q = jax.nn.log_softmax(model.net.apply(variables, x, method=M2Net.classify))
        picked = bounds[jnp.arange(4), label]
        expected = -picked - 0.5 * log_q[jnp.arange(4), label]
    np.testing.assert_allclose(terms.loss, expected, rtol=1e-10)


def test_evaluate_reports_the_classifier_error_and_sampling_follows_the_labels(tiny):
    model, variables, x, _, _ = tiny
    with jax.enable_x64(True):
        log_q = model.class_log_probs(variables, x)
        label = jnp.argmax(log_q, axis=1)
        wrong = (label + 1) % 3
        both = jnp.concatenate([label[:2], wrong[2:]])
        out = model.evaluate(variables, {"x": x, "label": both}, jax.random.PRNGKey(1))
        a = model.sample(variables, jax.random.PRNGKey(2), 6, jnp.asarray([0] * 6))
        b = model.sample(variables, jax.random.PRNGKey(2), 6, jnp.asarray([1] * 6))
        score = model.anomaly_score(variables, {"x": x}, jax.random.PRNGKey(1))
    np.testing.assert_array_equal(out["error"], [0, 0, 1, 1])
    np.testing.assert_allclose(score, -out["elbo"], rtol=1e-10)  # labels play no part
    assert a.shape == (6, 5) and not np.allclose(a, b)
    assert math.isclose(float(jnp.sum(jnp.exp(log_q[0]))), 1.0, rel_tol=1e-12)


def test_labelled_share_of_a_batch():
    model = models.build("m2", CONFIG, BITS)
    assert model.labelled_per_batch(100, 100, 60000) == 1  # at least one
    assert model.labelled_per_batch(100, 3000, 60000) == 5  # the data's own share
    assert models.build("m2", models.M2Config(labelled_fraction=0.5), BITS
                        ).labelled_per_batch(64, 10, 1000) == 32
    assert model.labelled_per_batch(4, 99, 100) == 3  # at least one unlabelled


@pytest.mark.parametrize(("config", "info", "message"), [
    (CONFIG, DatasetInfo("vectors", (5,), 0, 2, {}), "m2 learns classes, but 'vectors' has "
     "no labels"),
    (models.M2Config(alpha=-1.0), BITS, "alpha must be a finite number >= 0"),
    (models.M2Config(labelled_fraction=1.0), BITS, r"labelled_fraction must lie in \(0, 1\)"),
    (models.M2Config(classifier_hidden=(0,)), BITS, "every classifier_hidden size must be"),
])
def test_bad_configs_are_one_line(config, info, message):
    with pytest.raises(ValueError, match=message):
        models.build("m2", config, info)


def test_a_batch_without_labels_is_refused(tiny):
    model, variables, x, _, _ = tiny
    with pytest.raises(ValueError, match="m2 learns from labels: pass batch"):
        model.loss(variables, {"x": x}, jax.random.PRNGKey(0))


def test_m1m2_trains_m1_first_then_m2_on_its_codes_without_moving_m1():
    info = DatasetInfo("bits", (6,), 3, 2, {"train": 6})
    config = models.M1M2Config(hidden=(4,), classifier_hidden=(4,), latent_dim=2,
                               m1_hidden=(5,), m1_latent_dim=3, m1_steps=10)
    model = models.build("m1m2", config, info)
    x = jnp.asarray(np.random.default_rng(1).integers(0, 2, (4, 6)), jnp.float32)
    batch, key = {"x": x, "label": jnp.asarray([1, -1, -1, 0], jnp.int32)}, jax.random.PRNGKey(3)
    variables = model.init(jax.random.PRNGKey(0), batch)
    assert set(variables["params"]) == {"m1", "m2"}

    def grads(step):
        def f(params):
            return model.loss_at({"params": params}, batch, key, jnp.asarray(step),
                                 train=True)[0]
        return jax.value_and_grad(f)(variables["params"])

    def norm(tree):
        return float(sum(jnp.sum(jnp.abs(g)) for g in jax.tree.leaves(tree)))

    first, g1 = grads(9)
    second, g2 = grads(10)
    m1_elbo = models.elbo(model.m1, {"params": variables["params"]["m1"]}, x, None, key).elbo
    np.testing.assert_allclose(first, -jnp.mean(m1_elbo), rtol=1e-6)  # M1's phase
    np.testing.assert_allclose(second, model.loss(variables, batch, key)[0], rtol=1e-6)
    assert norm(g1["m2"]) == 0 and norm(g1["m1"]) > 0
    assert norm(g2["m1"]) == 0 and norm(g2["m2"]) > 0  # M1 held fixed under M2
    # Each model's optimizer is idle while the other trains: M1 stays exactly where its phase
    # left it, and M2's first update is Adam's first (about the learning rate per parameter).
    tx = model.make_optimizer(OptimConfig(learning_rate=0.1), 20)
    opt = tx.init(variables["params"])
    for _ in range(3):
        _, opt = tx.update(g1, opt, variables["params"])
    updates, opt = tx.update(g2, opt, variables["params"])
    assert norm(updates["m1"]) == 0
    first = np.abs(np.concatenate([np.ravel(u) for u in jax.tree.leaves(updates["m2"])]))
    moved = first[first > 0]
    np.testing.assert_allclose(moved, 0.1, rtol=1e-3)
    # Samples go down M2's decoder to a code, then M1's to an image in [0, 1].
    samples = model.sample(variables, key, 5)
    assert samples.shape == (5, 6) and bool(jnp.all((samples >= 0) & (samples <= 1)))
    with pytest.raises(ValueError, match="likelihood must be 'gaussian'"):
        models.build("m1m2", models.M1M2Config(likelihood="bernoulli"), info)
