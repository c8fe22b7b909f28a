"""The flow families (realnvp, nsf, maf, glow) as GenerativeModels: exact likelihoods checked
against references computed another way, initialization, sampling, conditioning, errors."""

import dataclasses
import math

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

from gen_jax import bijectors as gb
from gen_jax import data, models
from gen_jax.config import DataConfig
from gen_jax.data._types import DatasetInfo

TOY = data.info("two_moons")  # continuous, 2-d, 2 classes
DIGITS = data.info("digits")  # 8x8x1, 17 levels, 10 classes
VEC4 = DatasetInfo("vec4", (4,), 0, None)

SMALL = {
    "realnvp": models.RealNVPConfig(num_layers=3, hidden=(16,)),
    "nsf": models.NSFConfig(num_layers=3, hidden=(16,), num_bins=4, tail_bound=3.0),
    "maf": models.MAFConfig(num_layers=3, hidden=(16,)),
    "maf_spline": models.MAFConfig(num_layers=2, hidden=(16,), transformer="spline", num_bins=4),
    "iaf": models.MAFConfig(num_layers=2, hidden=(16,), direction="iaf"),
}
IMAGE = {
    "glow": models.GlowConfig(num_layers=2, hidden=(8,), num_levels=2),
    "realnvp_conv": models.RealNVPConfig(arch="conv", num_layers=1, hidden=(8,), num_levels=1),
    "nsf_conv": models.NSFConfig(arch="conv", num_layers=2, hidden=(8,), num_levels=1,
                                 num_bins=4),
}

ONE_LEVEL = {"glow": models.GlowConfig(num_layers=2, hidden=(8,), num_levels=1)}  # faster


def family(name):
    return name.split("_")[0].replace("iaf", "maf")


def _init(model, x, label=None):
    batch = {"x": x} if label is None else {"x": x, "label": label}
    return jax.jit(model.init)(jax.random.PRNGKey(0), batch)


def _log_prob(model, variables, x, label=None):
    return jax.jit(model.log_prob)(variables, x, label)


def _bijector_apply(model, variables, method, z):
    """``bijector.forward`` / ``inverse`` of the unconditional flow, jitted."""
    return jax.jit(lambda v, z: getattr(
        model.net.apply(v, None, None, method="bijector"), method)(z))(variables, z)


def _perturb(variables, key, scale):
    """Random, far-from-identity parameters (zero-initialized output layers included)."""
    leaves, tree = jax.tree.flatten(variables)
    keys = jax.random.split(key, len(leaves))
    out = [x + scale * jax.random.normal(k, x.shape, x.dtype) if "float" in str(x.dtype) else x
           for x, k in zip(leaves, keys, strict=True)]
    return jax.tree.unflatten(tree, out)


def _dequantized(info, n, seed=0):
    rng = np.random.default_rng(seed)
    k = rng.integers(0, info.num_levels, (n, *info.shape))
    return jnp.asarray((k + rng.uniform(size=k.shape)) / info.num_levels, jnp.float32)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_vector_flow_log_prob_is_the_change_of_variables_of_its_jacobian(name):
    """float64: log p(x) = log N(f^-1(x)) + log|det d f^-1 / dx|, the Jacobian by autodiff."""
    with jax.enable_x64(True):
        model = models.build(family(name), SMALL[name], VEC4)
        x = jnp.asarray(np.random.default_rng(1).normal(size=(3, 4)))
        variables = _init(model, x)
        variables = _perturb(jax.tree.map(lambda a: a.astype(jnp.float64)
                                          if a.dtype == jnp.float32 else a, variables),
                             jax.random.PRNGKey(1), 0.3)

        @jax.jit
        def reference_terms(v, x):
            inverse = model.net.apply(v, None, None, method="bijector").inverse
            return model.log_prob(v, x), inverse(x), jax.vmap(jax.jacfwd(inverse))(x)

        log_p, z, jac = map(np.asarray, reference_terms(variables, x))
        ref = stats.norm.logpdf(z).sum(-1) + np.linalg.slogdet(jac)[1]
        np.testing.assert_allclose(log_p, ref, rtol=1e-8, atol=0)
        assert float(jnp.abs(log_p - stats.norm.logpdf(np.asarray(x)).sum(-1)).max()) > 1e-2


@pytest.mark.parametrize("name", sorted(IMAGE))
def test_image_flow_matches_distrax_transformed_and_round_trips(name):
    model = models.build(family(name), IMAGE[name], DIGITS)
    x = _dequantized(DIGITS, 6)
    variables = _perturb(_init(model, x), jax.random.PRNGKey(1), 0.05)
    alpha = IMAGE[name].logit_alpha
    s = alpha + (1 - 2 * alpha) * np.asarray(x, np.float64)
    y = np.log(s) - np.log1p(-s)
    logit_log_det = (math.log1p(-2 * alpha) - np.log(s) - np.log1p(-s)).reshape(6, -1).sum(-1)
    z = jax.random.normal(jax.random.PRNGKey(2), (4, DIGITS.dim))

    @jax.jit
    def terms(v, x, y, z):
        bijector = model.net.apply(v, None, None, method="bijector")
        image = bijector.forward(z)
        return (model.log_prob(v, x), model.distribution(v).log_prob(y), image,
                bijector.inverse(image))

    log_p, dist_log_p, image, z_back = terms(variables, x, jnp.asarray(y, jnp.float32), z)
    # The same density through distrax.Transformed, plus the logit's log-det by hand.
    np.testing.assert_allclose(np.asarray(log_p), np.asarray(dist_log_p) + logit_log_det,
                               rtol=2e-5, atol=2e-3)
    # latent -> image -> latent
    assert image.shape == (4, 8, 8, 1)
    np.testing.assert_allclose(z_back, z, atol=2e-4)


def test_identity_flow_density_equals_hand_computed_logit_gaussian():
    """At initialization a coupling flow is the identity: log p(x) is the standard normal of
    logit(x) plus the logit's log-det, and bits/dim follows from the 17 levels of the digits."""
    model = models.build("realnvp", SMALL["realnvp"], DIGITS)
    x = _dequantized(DIGITS, 5)
    variables = model.init(jax.random.PRNGKey(0), {"x": x})
    alpha = SMALL["realnvp"].logit_alpha
    s = alpha + (1 - 2 * alpha) * np.asarray(x, np.float64).reshape(5, -1)
    y = np.log(s) - np.log1p(-s)
    ref = (stats.norm.logpdf(y) + math.log1p(-2 * alpha) - np.log(s) - np.log1p(-s)).sum(-1)
    np.testing.assert_allclose(np.asarray(model.log_prob(variables, x)), ref, rtol=1e-5)
    metrics = model.evaluate(variables, {"x": x}, jax.random.PRNGKey(0))
    nll = -ref + 64 * math.log(17)
    np.testing.assert_allclose(np.asarray(metrics["nll"]), nll, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(metrics["bpd"]), nll / (64 * math.log(2)), rtol=1e-5)


def test_glow_actnorm_is_initialized_from_the_data():
    """After the data-dependent initialization the init batch's latent is standardized."""
    model = models.build("glow", IMAGE["glow"], DIGITS)  # two levels: the second's ActNorm too
    x = _dequantized(DIGITS, 128, seed=3)
    variables = _init(model, x)
    y, _ = model._to_model(x)
    z = _bijector_apply(model, variables, "inverse", y)
    assert abs(float(z.mean())) < 1e-3
    assert abs(float(z.std()) - 1.0) < 0.02
    # Another batch standardizes differently: the parameters really come from the data.
    other = _init(model, 0.5 * x)
    assert not np.allclose(jax.tree.leaves(other)[0], jax.tree.leaves(variables)[0])


def test_glow_actnorm_of_each_level_is_initialized_from_what_reaches_that_level():
    """The first step the data meets in each level (the last of its stacked steps: the data ->
    latent pass runs them in reverse) standardizes, per channel, that level's own input: the
    squeezed image for level 0, the squeezed half that level 0 passes on for level 1. Mean and
    std taken here with numpy, in float64, from the initialized flow's own levels."""
    model = models.build("glow", IMAGE["glow"], DIGITS)
    x = _dequantized(DIGITS, 128, seed=3)
    variables = _init(model, x)
    y, _ = model._to_model(x)
    levels = model.net.apply(variables, None, None, method="bijector").levels
    assert len(levels) == 2
    h = gb.squeeze(y)
    for level, bijector in enumerate(levels):
        actnorm = variables["params"][f"level_{level}"]["actnorm"]
        seen = np.asarray(h, np.float64).reshape(-1, h.shape[-1])
        np.testing.assert_allclose(actnorm["shift"][-1], seen.mean(0), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(actnorm["log_scale"][-1], np.log(seen.std(0)), atol=1e-4)
        out = jax.jit(bijector.inverse)(h)
        h = gb.squeeze(out[..., out.shape[-1] // 2:])


@pytest.mark.parametrize("name", ["realnvp", "maf", "glow"])
def test_conditional_flows_depend_on_the_label(name):
    cfg = dataclasses.replace({**SMALL, **IMAGE, **ONE_LEVEL}[name], conditional=True)
    if name == "maf":  # MADE layers on the 64 pixels need widths >= 63
        cfg = dataclasses.replace(cfg, hidden=(64,))
    model = models.build(name, cfg, DIGITS)
    x = _dequantized(DIGITS, 4)
    label = jnp.array([0, 1, 2, 3], jnp.int32)
    variables = _perturb(_init(model, x, label), jax.random.PRNGKey(1), 0.05)
    a = _log_prob(model, variables, x, label)
    b = _log_prob(model, variables, x, (label + 1) % 10)
    assert float(jnp.abs(a - b).max()) > 1e-3
    samples = jax.jit(model.sample, static_argnums=2)(variables, jax.random.PRNGKey(2), 4, label)
    assert samples.shape == (4, 8, 8, 1)
    with pytest.raises(ValueError, match="class-conditional"):
        model.sample(variables, jax.random.PRNGKey(2), 4)


@pytest.mark.parametrize("name", ["nsf", "glow"])
def test_samples_lie_in_the_data_range_and_temperature_zero_is_the_mode(name):
    info = DIGITS if name == "glow" else TOY
    cfg = {**SMALL, **IMAGE, **ONE_LEVEL}[name]
    model = models.build(name, cfg, info)
    x = _dequantized(info, 8) if info.is_discrete else jnp.ones((8, 2))
    variables = _perturb(_init(model, x), jax.random.PRNGKey(1), 0.05)
    sample = jax.jit(model.sample, static_argnums=2, static_argnames="temperature")
    s = sample(variables, jax.random.PRNGKey(2), 16)
    assert s.shape == (16, *info.shape) and bool(jnp.all(jnp.isfinite(s)))
    if info.is_discrete:
        assert float(s.min()) >= 0.0 and float(s.max()) <= 1.0
    cold = sample(variables, jax.random.PRNGKey(2), 2, temperature=1e-8)
    mode = model._from_model(_bijector_apply(model, variables, "forward",
                                             jnp.zeros((1, info.dim))))
    np.testing.assert_allclose(cold, jnp.broadcast_to(mode, cold.shape), atol=1e-5)


def test_trained_flow_reaches_the_entropy_of_a_known_gaussian():
    """Maximum likelihood on a correlated 2-d Gaussian: the held-out NLL lands within 0.03 nats
    of the true entropy, and samples reproduce its mean and covariance."""
    cov = np.array([[2.0, 0.8], [0.8, 0.5]])
    mean = np.array([1.0, -2.0])
    rng = np.random.default_rng(0)
    train = jnp.asarray(rng.multivariate_normal(mean, cov, 20_000), jnp.float32)
    test = jnp.asarray(rng.multivariate_normal(mean, cov, 20_000), jnp.float32)
    entropy = 0.5 * math.log(np.linalg.det(2 * math.pi * math.e * cov))
    info = DatasetInfo("gauss2", (2,), 0, None)
    model = models.build("realnvp", models.RealNVPConfig(num_layers=4, hidden=(32,)), info)
    variables = model.init(jax.random.PRNGKey(0), {"x": train[:2]})
    tx = optax.adam(3e-3)
    opt = tx.init(variables["params"])

    @jax.jit
    def step(params, opt, idx):
        loss, grads = jax.value_and_grad(
            lambda p: model.loss({"params": p}, {"x": train[idx]}, None)[0])(params)
        updates, opt = tx.update(grads, opt, params)
        return optax.apply_updates(params, updates), opt, loss

    params = variables["params"]
    batches = np.random.default_rng(1).integers(0, len(train), (1500, 256))
    for idx in batches:
        params, opt, _ = step(params, opt, idx)
    nll = -float(jnp.mean(model.log_prob({"params": params}, test)))
    assert abs(nll - entropy) < 0.03, (nll, entropy)
    samples = np.asarray(model.sample({"params": params}, jax.random.PRNGKey(3), 20_000))
    np.testing.assert_allclose(samples.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(np.cov(samples.T), cov, atol=0.08)


@pytest.mark.parametrize("name, cfg, info, match", [
    ("maf", models.MAFConfig(hidden=(16,)), DIGITS, "hidden widths must be >= dim - 1"),
    ("glow", models.GlowConfig(), TOY, "needs images"),
    ("glow", models.GlowConfig(num_levels=4), DIGITS, "divisible by 16"),
    ("realnvp", models.RealNVPConfig(conditional=True), VEC4, "needs labels"),
    ("maf", models.MAFConfig(arch="conv"), DIGITS, "set arch='mlp'"),
    ("glow", models.GlowConfig(arch="mlp"), DIGITS, "keep arch='conv'"),
    ("nsf", models.NSFConfig(num_bins=1), TOY, "num_bins >= 2"),
    ("realnvp", models.RealNVPConfig(num_layers=0), TOY, "num_layers must be >= 1"),
    ("realnvp", models.RealNVPConfig(logit_alpha=0.0), DIGITS, "logit_alpha=0 maps a "
     "dequantized pixel of exactly 0"),
])
def test_configs_that_do_not_fit_the_data_are_one_line_errors(name, cfg, info, match):
    with pytest.raises(ValueError, match=match) as err:
        models.build(name, cfg, info)
    assert "\n" not in str(err.value)


def test_flows_refuse_binarized_or_undequantized_discrete_data():
    model = models.build("realnvp", SMALL["realnvp"], DIGITS)
    with pytest.raises(ValueError, match="drop data.binarize"):
        model.check_data(DataConfig(name="digits", binarize=True))
    with pytest.raises(ValueError, match="needs dequantized inputs"):
        model.check_data(DataConfig(name="digits", dequantize=False))
    model.check_data(DataConfig(name="digits"))  # unset: the flow dequantizes


def test_registry_names_the_four_families():
    for name, cls in [("realnvp", models.RealNVPConfig), ("nsf", models.NSFConfig),
                      ("maf", models.MAFConfig), ("glow", models.GlowConfig)]:
        assert models.FAMILIES[name].config is cls
        assert models.name_of(cls()) == name
    assert isinstance(models.build("nsf", models.NSFConfig(), TOY).distribution(
        models.build("nsf", models.NSFConfig(), TOY).init(
            jax.random.PRNGKey(0), {"x": jnp.ones((2, 2))})), distrax.Transformed)


@pytest.mark.parametrize("name, cfg", [
    ("nsf", models.NSFConfig(num_layers=2, hidden=(8,))),
    ("maf", models.MAFConfig(num_layers=2, hidden=(8,), transformer="spline")),
])
def test_spline_flows_start_with_finite_nonzero_gradients(name, cfg):
    """At initialization (zero-initialized conditioners: identity splines) the loss's gradient
    is finite and moves the parameters, so the first training steps are not all skipped."""
    model = models.build(name, cfg, VEC4)
    x = jax.random.normal(jax.random.PRNGKey(1), (64, 4))
    variables = model.init(jax.random.PRNGKey(0), {"x": x})
    grads = jax.grad(lambda p: model.loss({"params": p}, {"x": x}, None)[0])(
        variables["params"])
    leaves = [np.asarray(g) for g in jax.tree.leaves(grads)]
    assert all(np.all(np.isfinite(g)) for g in leaves)
    assert any(np.any(g != 0) for g in leaves)
