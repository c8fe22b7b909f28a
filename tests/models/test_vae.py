"""VAE objectives against hand computations, closed forms and Monte Carlo; builds; training."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.stats

from gen_jax.data._types import DatasetInfo
from gen_jax.metrics import importance_log_likelihood
from gen_jax.models import VAEConfig, build, elbo, gaussian_kl, iwae_bound

MNIST = DatasetInfo("mnist", (28, 28, 1), 10, 256)
DIGITS8 = DatasetInfo("digits", (8, 8, 1), 10, 17)


def _params(variables):
    return jax.tree.map(lambda a: np.asarray(a, np.float64), variables["params"])


def _set(variables, path, value):
    """A copy of ``variables`` with the leaf at ``path`` (keys under "params") replaced."""
    params = jax.tree.map(lambda a: a, variables["params"])
    node = params
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = jnp.asarray(value, jnp.float32)
    return {"params": params}


# ---------------------------------------------------------------------------------- hand ELBO

@pytest.mark.parametrize("likelihood, scale, levels", [
    ("bernoulli", "learned", 2),
    ("gaussian", "learned", None),
    ("logistic", "predicted", 17),
])
def test_elbo_matches_a_numpy_computation(likelihood, scale, levels):
    """A tiny tanh MLP VAE whose posterior variance is ~e^-40, so z = mean: the ELBO is
    log p(x | mean) - KL, computed here with numpy and scipy."""
    dim, latent = 4, 2
    info = DatasetInfo("toy", (dim,), 0, levels)
    model = build("vae", VAEConfig(hidden=(3,), latent_dim=latent, likelihood=likelihood,
                                scale=scale), info)
    rng = np.random.default_rng(1)
    if levels is None:
        x = rng.normal(size=(5, dim)).astype(np.float32)
    else:
        x = (rng.integers(0, levels, size=(5, dim)) / (levels - 1)).astype(np.float32)
    variables = model.init(jax.random.key(0), {"x": jnp.asarray(x)})
    enc_out = ("encoder", "MLP_0", "Dense_1")
    kernel = np.asarray(variables["params"]["encoder"]["MLP_0"]["Dense_1"]["kernel"]).copy()
    bias = np.asarray(variables["params"]["encoder"]["MLP_0"]["Dense_1"]["bias"]).copy()
    kernel[:, latent:], bias[latent:] = 0.0, -40.0  # log_var = -40
    variables = _set(variables, (*enc_out, "kernel"), kernel)
    variables = _set(variables, (*enc_out, "bias"), bias)
    if scale == "learned" and likelihood != "bernoulli":
        variables = _set(variables, ("decoder", "log_scale"), rng.normal(0, 0.3, size=dim))

    p = _params(variables)
    e, d = p["encoder"]["MLP_0"], p["decoder"]["MLP_0"]
    h = np.tanh(x @ e["Dense_0"]["kernel"] + e["Dense_0"]["bias"])
    mean = (h @ e["Dense_1"]["kernel"] + e["Dense_1"]["bias"])[:, :latent]
    out = np.tanh(mean @ d["Dense_0"]["kernel"] + d["Dense_0"]["bias"]) @ d["Dense_1"]["kernel"]
    out = out + d["Dense_1"]["bias"]
    if likelihood == "bernoulli":
        log_px = scipy.stats.bernoulli.logpmf(x, scipy.special.expit(out)).sum(1)
    elif likelihood == "gaussian":
        log_px = scipy.stats.norm.logpdf(x, out, np.exp(p["decoder"]["log_scale"])).sum(1)
    else:
        loc, log_s = out[:, :dim], np.maximum(out[:, dim:], -7.0)
        k = np.round(x * (levels - 1))
        cdf = lambda t: scipy.stats.logistic.cdf(t, loc, np.exp(log_s))
        hi = np.where(k == levels - 1, 1.0, cdf((k + 0.5) / (levels - 1)))
        lo = np.where(k == 0, 0.0, cdf((k - 0.5) / (levels - 1)))
        log_px = np.log(hi - lo).sum(1)
    kl = 0.5 * np.sum(mean**2 + np.exp(-40.0) - 1.0 + 40.0, axis=1)

    terms = elbo(model.net, variables, jnp.asarray(x), None, jax.random.key(3))
    np.testing.assert_allclose(terms.kl, kl, rtol=1e-5)
    np.testing.assert_allclose(terms.recon_nll, -log_px, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(terms.elbo, log_px - kl, rtol=1e-4, atol=1e-4)
    evaluated = model.evaluate(variables, {"x": jnp.asarray(x)}, jax.random.key(4))
    np.testing.assert_allclose(evaluated["elbo"], log_px - kl, rtol=1e-4, atol=1e-4)


def test_analytic_kl_matches_monte_carlo():
    rng = np.random.default_rng(2)
    mean = rng.normal(size=(3, 4))
    log_var = rng.normal(scale=0.7, size=(3, 4))
    std = np.exp(0.5 * log_var)
    z = mean + std * rng.normal(size=(200_000, 3, 4))
    log_ratio = (scipy.stats.norm.logpdf(z, mean, std) - scipy.stats.norm.logpdf(z)).sum(-1)
    mc, se = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(len(z))
    got = np.asarray(gaussian_kl(jnp.asarray(mean, jnp.float32), jnp.asarray(log_var, jnp.float32)))
    assert np.all(np.abs(got - mc) < 5 * se + 1e-4), (got, mc, se)


# --------------------------------------------------------------------- linear-Gaussian model

def _linear_gaussian(exact_posterior=True):
    """A VAE with linear encoder/decoder and fixed Gaussian noise: p(x) = N(b, W W^T + s^2 I).

    W has orthogonal columns, so the exact posterior has diagonal covariance and the encoder can
    represent it. Returns (model, variables, x, exact log p(x)).
    """
    dim, latent, noise = 6, 2, 0.5
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    w = q[:, :latent] * np.array([2.0, 1.0])
    b = rng.normal(size=dim)
    post_var = 1.0 / (1.0 + np.diag(w.T @ w) / noise**2)
    k_mean = w * post_var / noise**2  # mean = (x - b) @ k_mean
    if not exact_posterior:
        k_mean = k_mean * 0.7
        post_var = post_var * 2.5
    enc_kernel = np.concatenate([k_mean, np.zeros((dim, latent))], axis=1)
    enc_bias = np.concatenate([-b @ k_mean, np.log(post_var)])
    info = DatasetInfo("linear", (dim,), 0, None)
    model = build("vae", VAEConfig(hidden=(), latent_dim=latent, likelihood="gaussian",
                                scale="fixed", log_scale=math.log(noise)), info)
    x = (b + rng.normal(size=(8, latent)) @ w.T + noise * rng.normal(size=(8, dim)))
    variables = model.init(jax.random.key(0), {"x": jnp.asarray(x, jnp.float32)})
    for path, value in [(("encoder", "MLP_0", "Dense_0", "kernel"), enc_kernel),
                        (("encoder", "MLP_0", "Dense_0", "bias"), enc_bias),
                        (("decoder", "MLP_0", "Dense_0", "kernel"), w.T),
                        (("decoder", "MLP_0", "Dense_0", "bias"), b)]:
        variables = _set(variables, path, value)
    log_px = scipy.stats.multivariate_normal(b, w @ w.T + noise**2 * np.eye(dim)).logpdf(x)
    return model, variables, jnp.asarray(x, jnp.float32), log_px


def test_iwae_with_the_exact_posterior_is_the_exact_log_likelihood():
    model, variables, x, log_px = _linear_gaussian()
    for k in (1, 7):
        bound = jax.jit(lambda v, x, key, k=k: iwae_bound(model.net, v, x, None, key, k))(
            variables, x, jax.random.key(k))
        np.testing.assert_allclose(bound, log_px, rtol=1e-5, atol=1e-4)


def test_elbo_with_the_exact_posterior_averages_to_the_log_likelihood():
    model, variables, x, log_px = _linear_gaussian()
    terms = elbo(model.net, variables, x, None, jax.random.key(0), num_samples=20_000)
    np.testing.assert_allclose(terms.elbo, log_px, atol=0.03)


def test_elbo_of_an_inexact_posterior_is_below_the_log_likelihood_by_the_kl_gap():
    model, variables, x, log_px = _linear_gaussian(exact_posterior=False)
    terms = elbo(model.net, variables, x, None, jax.random.key(0), num_samples=20_000)
    gap = log_px - np.asarray(terms.elbo)
    assert np.all(gap > 0.05), gap  # KL(q || exact posterior) > 0


# ----------------------------------------------------------------------------- IWAE vs ELBO

@pytest.fixture(scope="module")
def random_binary_vae():
    info = DatasetInfo("toy", (16,), 0, 2)
    model = build("vae", VAEConfig(hidden=(32,), latent_dim=4), info)
    x = (jax.random.uniform(jax.random.key(1), (400, 16)) < 0.3).astype(jnp.float32)
    variables = model.init(jax.random.key(0), {"x": x})
    # a decoder 3x more sensitive to z than at init: the posterior is far from exact
    variables = jax.tree_util.tree_map_with_path(
        lambda path, a: 3.0 * a if "decoder" in str(path) and "kernel" in str(path) else a,
        variables)
    return model, variables, x


def test_iwae_bound_is_above_the_elbo_and_grows_with_k(random_binary_vae):
    """Statistical: means over 400 examples. Measured gaps: ELBO -> k=10 about 6 nats,
    k=10 -> k=100 about 1.6 nats; standard errors of the means 0.1-0.3 nat."""
    model, variables, x = random_binary_vae
    key = jax.random.key(2)
    elbo_mean = float(jnp.mean(jax.jit(
        lambda v: elbo(model.net, v, x, None, key, num_samples=100).elbo)(variables)))
    bounds = {k: np.asarray(jax.jit(lambda v, k=k: iwae_bound(model.net, v, x, None, key, k))(
        variables)) for k in (1, 10, 100)}
    se1 = bounds[1].std() / math.sqrt(len(x))
    # k = 1 is the ELBO with a Monte Carlo KL: equal in expectation
    assert abs(bounds[1].mean() - elbo_mean) < 4 * se1 + 0.05
    assert bounds[10].mean() > elbo_mean + 3.0
    assert bounds[100].mean() > bounds[10].mean() + 0.8
    # per example (each bound with its own noise), k = 100 is above the ELBO almost everywhere
    assert np.mean(bounds[100] > elbo_mean) > 0.9


def test_beta_scales_the_kl(random_binary_vae):
    model, variables, x = random_binary_vae
    info = model.info
    key = jax.random.key(5)
    loss1, (metrics, _) = model.loss(variables, {"x": x}, key, train=True)
    beta3 = build("vae", VAEConfig(hidden=(32,), latent_dim=4, beta=3.0), info)
    loss3, _ = beta3.loss(variables, {"x": x}, key, train=True)
    np.testing.assert_allclose(loss3 - loss1, 2.0 * metrics["kl"], rtol=1e-4)
    assert metrics["kl"] > 0.1


def test_iwae_objective_loss_is_the_negative_bound(random_binary_vae):
    model, variables, x = random_binary_vae
    iwae = build("vae", VAEConfig(hidden=(32,), latent_dim=4, objective="iwae", num_samples=5),
                     model.info)
    key = jax.random.key(6)
    loss, (metrics, _) = iwae.loss(variables, {"x": x}, key, train=True)
    bound = iwae_bound(iwae.net, variables, x, None, key, 5)
    np.testing.assert_allclose(loss, -jnp.mean(bound), rtol=1e-5)
    assert metrics["iwae_bound"] > metrics["elbo"]
    assert "iwae_bound" in iwae.evaluate(variables, {"x": x}, key)


# ------------------------------------------------------------------------------ conditional

def test_conditional_vae_needs_labels_and_uses_them():
    info = DatasetInfo("toy", (16,), 3, 2)
    model = build("vae", VAEConfig(hidden=(8,), latent_dim=2, conditional=True), info)
    x = jnp.ones((4, 16)) * 0.5
    label = jnp.array([0, 1, 2, 0], jnp.int32)
    variables = model.init(jax.random.key(0), {"x": x, "label": label})
    with pytest.raises(ValueError, match="class-conditional"):
        model.loss(variables, {"x": x}, jax.random.key(1), train=True)
    with pytest.raises(ValueError, match="class-conditional"):
        model.evaluate(variables, {"x": x}, jax.random.key(1))
    z = jnp.zeros((3, 2))
    means = model.decode(variables, z, jnp.array([0, 1, 2], jnp.int32))
    assert not np.allclose(means[0], means[1])
    samples = model.sample(variables, jax.random.key(2), 6)  # cycles through the classes
    assert samples.shape == (6, 16)
    with pytest.raises(AssertionError):  # labels of the wrong dtype
        model.loss(variables, {"x": x, "label": label.astype(jnp.float32)}, jax.random.key(1),
                   train=True)


def test_conditional_importance_weights_decode_each_sample_with_its_own_label():
    # k posterior samples of a batch are decoded in one call of k * B rows: sample s of example
    # b must get example b's label, as when each sample is decoded on its own.
    from gen_jax.models.vae import log_importance_weights

    info = DatasetInfo("toy", (16,), 3, 2)
    model = build("vae", VAEConfig(hidden=(8,), latent_dim=2, conditional=True), info)
    x = (jax.random.uniform(jax.random.key(5), (4, 16)) > 0.5).astype(jnp.float32)
    label = jnp.array([0, 1, 2, 1], jnp.int32)
    variables = model.init(jax.random.key(0), {"x": x, "label": label})
    key = jax.random.key(1)
    together = log_importance_weights(model.net, variables, x, label, key, 3)
    mean, log_var = model.net.apply(variables, x, label, method=type(model.net).encode)
    eps = jax.random.normal(key, (3, *mean.shape))  # the draws it makes
    for s in range(3):
        z = mean + jnp.exp(0.5 * log_var) * eps[s]
        loc, _ = model.net.apply(variables, z, label, method=type(model.net).decode)
        log_lik = jnp.sum(x * jax.nn.log_sigmoid(loc) + (1 - x) * jax.nn.log_sigmoid(-loc), -1)
        log_q = jnp.sum(scipy.stats.norm.logpdf(np.asarray(z), np.asarray(mean),
                                                np.exp(0.5 * np.asarray(log_var))), -1)
        log_prior = jnp.sum(scipy.stats.norm.logpdf(np.asarray(z)), -1)
        np.testing.assert_allclose(together[s], log_lik + log_prior - log_q, rtol=1e-5,
                                   atol=1e-4)


@pytest.mark.parametrize("bound", ["elbo", "iwae"])
def test_bound_gradients_match_finite_differences(bound):
    # At a fixed key: the reparameterized gradient of each bound, projected on random
    # directions of all parameters (encoder and decoder), against central differences. The
    # networks output float32, so the step is 1e-3 and the tolerance 2e-3 (a stop_gradient on
    # the posterior's mean or log-variance anywhere moves it by far more).
    from jax.test_util import check_grads

    info = DatasetInfo("toy", (6,), 0, 2)
    model = build("vae", VAEConfig(hidden=(5,), latent_dim=2), info)
    x = (jax.random.uniform(jax.random.key(5), (3, 6)) > 0.5).astype(jnp.float32)
    variables = model.init(jax.random.key(0), {"x": x})
    key = jax.random.key(1)

    def value(params):
        v = {**variables, "params": params}
        if bound == "elbo":
            return jnp.sum(elbo(model.net, v, x, None, key, num_samples=2).elbo)
        return jnp.sum(iwae_bound(model.net, v, x, None, key, 4))

    check_grads(value, (variables["params"],), order=1, modes=["rev"], eps=1e-3, atol=2e-3,
                rtol=2e-3)


@pytest.mark.parametrize("likelihood, levels", [("bernoulli", 2), ("logistic", 17)])
def test_a_float64_vae_keeps_float64_so_its_gradients_check_to_1e_7(likelihood, levels):
    # Mixed precision narrows only the compute: a float64 model (x64 on) must not hand float32
    # to its bound, or the tight central-difference check below fails by orders of magnitude.
    from jax.test_util import check_grads

    with jax.enable_x64(True):
        info = DatasetInfo("toy", (6,), 0, levels)
        config = VAEConfig(hidden=(5,), latent_dim=2, likelihood=likelihood,
                           **({"scale": "predicted"} if likelihood == "logistic" else {}))
        model = build("vae", config, info, dtype=jnp.float64)
        x = jax.random.uniform(jax.random.key(5), (3, 6), jnp.float64)
        x = (x > 0.5).astype(jnp.float64) if levels == 2 else jnp.round(x * 16) / 16
        variables = jax.tree.map(lambda a: a.astype(jnp.float64),
                                 jax.jit(model.init)(jax.random.key(0), {"x": x}))
        key = jax.random.key(1)
        assert jax.jit(model.sample, static_argnums=2)(variables, key, 3).dtype == jnp.float64
        assert jax.jit(model.loss)(variables, {"x": x}, key)[0].dtype == jnp.float64

        @jax.jit
        def value(params):
            return jnp.sum(iwae_bound(model.net, {**variables, "params": params}, x, None,
                                      key, 4))

        check_grads(value, (variables["params"],), order=1, modes=["rev"], eps=1e-6,
                    atol=1e-7, rtol=1e-7)

        # The importance-sampled likelihood (float32 data, as the evaluation feeds it) scans
        # over chunks in float64 too: 3 chunks of 2 and a remainder of 1 against one logsumexp.
        x32 = x.astype(jnp.float32)
        estimate = importance_log_likelihood(model, variables, x32, key, num_samples=7,
                                             chunk_size=2)
        log_w = jnp.concatenate([model.log_importance_weights(
            variables, x32, jax.random.fold_in(key, i), n) for i, n in enumerate((2, 2, 2, 1))])
        assert estimate.dtype == jnp.float64
        np.testing.assert_allclose(estimate, jax.nn.logsumexp(log_w, 0) - math.log(7),
                                   rtol=1e-13)


# ---------------------------------------------------------------------- builds and shapes

@pytest.mark.parametrize("config, info, match", [
    (VAEConfig(conditional=True), DatasetInfo("ring8", (2,), 0, None), "set conditional=False"),
    (VAEConfig(arch="conv"), DatasetInfo("ring8", (2,), 0, None), "arch='mlp'"),
    (VAEConfig(), DatasetInfo("ring8", (2,), 0, None), "likelihood='gaussian'"),
    (VAEConfig(likelihood="logistic"), DatasetInfo("ring8", (2,), 0, None), "num_levels"),
    (VAEConfig(objective="iwae", num_samples=5, beta=2.0), MNIST, "beta=1.0"),
    (VAEConfig(num_samples=0), MNIST, "num_samples"),
    (VAEConfig(activation="swishy"), MNIST, "unknown activation"),
    (VAEConfig(latent_dim=0), MNIST, "latent_dim"),
])
def test_build_rejects_configs_that_do_not_fit_the_data(config, info, match):
    with pytest.raises(ValueError, match=match) as err:
        build("vae", config, info)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("info, likelihood", [(MNIST, "bernoulli"), (DIGITS8, "logistic")])
def test_conv_vae_shapes(info, likelihood):
    model = build("vae", VAEConfig(arch="conv", hidden=(), channels=(8, 16), latent_dim=4,
                                likelihood=likelihood, scale="predicted"), info)
    x = jax.random.uniform(jax.random.key(0), (3, *info.shape))
    variables = jax.jit(model.init)(jax.random.key(1), {"x": x})
    metrics, samples, recon = jax.jit(lambda v, key: (
        model.evaluate(v, {"x": x}, key), model.sample(v, key, 5), model.reconstruct(v, x)))(
        variables, jax.random.key(2))
    assert set(metrics) == {"elbo", "kl", "recon_nll", "recon_error"}
    assert all(v.shape == (3,) and np.all(np.isfinite(v)) for v in metrics.values())
    assert samples.shape == (5, *info.shape)
    assert float(samples.min()) >= 0.0 and float(samples.max()) <= 1.0
    assert recon.shape == x.shape


def test_wrong_input_shape_is_caught():
    model = build("vae", VAEConfig(), MNIST)
    variables = model.init(jax.random.key(0), {"x": jnp.zeros((2, 28, 28, 1))})
    with pytest.raises(AssertionError):
        model.loss(variables, {"x": jnp.zeros((2, 784))}, jax.random.key(1), train=True)


def test_bfloat16_compute_keeps_float32_params():
    info = DIGITS8
    x = jax.random.uniform(jax.random.key(0), (4, 8, 8, 1))
    config = VAEConfig(hidden=(32,), latent_dim=4)  # conv dtypes are checked in tests/nn
    f32 = build("vae", config, info)
    bf16 = build("vae", config, info, dtype=jnp.bfloat16)
    variables = jax.jit(bf16.init)(jax.random.key(1), {"x": x})
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables))
    key = jax.random.key(2)
    loss16, grads = jax.jit(jax.value_and_grad(
        lambda v: bf16.loss(v, {"x": x}, key, train=True)[0]))(variables)
    loss32 = jax.jit(lambda v: f32.loss(v, {"x": x}, key, train=True)[0])(variables)
    assert loss16.dtype == jnp.float32
    np.testing.assert_allclose(loss16, loss32, rtol=0.02)
    assert all(g.dtype == jnp.float32 for g in jax.tree.leaves(grads))


# -------------------------------------------------------------------------- smoke training

def prototypes_dataset(shape, n=64, seed=0):
    """Binary images: 4 random prototypes with 5% of pixels flipped."""
    rng = np.random.default_rng(seed)
    protos = rng.random((4, *shape)) < 0.5
    x = protos[rng.integers(0, 4, n)] ^ (rng.random((n, *shape)) < 0.05)
    return jnp.asarray(x, jnp.float32)


def train_few_steps(model, x, steps=60, lr=3e-3):
    tx = optax.adam(lr)
    variables = model.init(jax.random.key(0), {"x": x})
    opt_state = tx.init(variables)

    @jax.jit
    def step(variables, opt_state, key):
        (loss, _), grads = jax.value_and_grad(
            lambda v: model.loss(v, {"x": x}, key, train=True), has_aux=True)(variables)
        updates, opt_state = tx.update(grads, opt_state, variables)
        return optax.apply_updates(variables, updates), opt_state, loss

    losses = []
    for i in range(steps):
        variables, opt_state, loss = step(variables, opt_state, jax.random.key(i))
        losses.append(float(loss))
    return losses


@pytest.mark.parametrize("config", [
    VAEConfig(hidden=(64,), latent_dim=4),
    VAEConfig(arch="conv", hidden=(), channels=(8, 16), latent_dim=4),
    VAEConfig(hidden=(64,), latent_dim=4, objective="iwae", num_samples=4),
], ids=["mlp", "conv", "iwae"])
def test_a_few_adam_steps_lower_the_loss(config):
    x = prototypes_dataset((8, 8, 1))
    losses = train_few_steps(build("vae", config, DIGITS8), x)
    assert all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:3]), (losses[:3], losses[-5:])
