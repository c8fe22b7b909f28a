"""Diffusion models against closed forms: the processes' schedules and SDEs, the four
parameterizations, every sampler and the ODE likelihood under the analytic score of Gaussian
data, Hutchinson's estimator, DDIM's determinism and inversion, guidance, the DDPM bound, and a
trained 2-d model against the true entropy."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.stats import multivariate_normal as mvn

from gen_jax import models
from gen_jax.data import DatasetInfo
from gen_jax.models import SamplerSettings, _ode
from gen_jax.models import diffusion as gd

from .continuous_toy import check_trained_on_a_gaussian

MU = np.array([1.0, -0.5, 0.2])
L = np.array([[0.6, 0.0, 0.0], [0.3, 0.4, 0.0], [0.1, -0.2, 0.3]])
SIGMA = L @ L.T


def analytic(process, mu=MU, cov=SIGMA):
    """The optimal denoiser of Gaussian data ``N(mu, cov)``: ``E[eps | x_t]`` in closed form,
    and the marginal ``N(alpha mu, alpha^2 cov + sigma^2 I)`` at time ``t``."""
    mu, cov = jnp.asarray(mu), jnp.asarray(cov)
    eye = jnp.eye(len(mu))

    def marginal(t):
        a, s = process.alpha(t), process.sigma(t)
        return a * mu, a**2 * cov + s**2 * eye

    def one(x, t):  # x [D], t scalar
        a, s = process.alpha(t), process.sigma(t)
        mean, c = marginal(t)
        eps = s * jnp.linalg.solve(c, x - mean)
        return (x - s * eps) / a, eps

    def denoise(x, t):  # x [B, D], t scalar or [B]
        return jax.vmap(one)(x, jnp.broadcast_to(t, x.shape[:1]))

    return denoise, marginal


def prior_draws(process, marginal, num, seed=1):
    mean, cov = marginal(jnp.asarray(process.t_max))
    z = jax.random.normal(jax.random.PRNGKey(seed), (num, mean.shape[0]), mean.dtype)
    return mean + z @ jnp.linalg.cholesky(cov).T


# ----- schedules and processes -------------------------------------------------------------


def test_ddpm_schedules_match_their_formulas():
    lin = gd.make_process("ddpm")
    np.testing.assert_allclose(np.asarray(lin.betas())[[0, -1]], [1e-4, 0.02], rtol=1e-6)
    t = jnp.array([0.001, 0.5, 1.0])
    ab = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
    np.testing.assert_allclose(lin.alpha(t) ** 2, ab[[0, 499, 999]], rtol=1e-4)
    np.testing.assert_allclose(lin.alpha(t) ** 2 + lin.sigma(t) ** 2, 1.0, rtol=1e-6)
    cos = gd.make_process("ddpm", schedule="cosine")
    i = np.array([1, 500, 999])
    f = np.cos((i / 1000 + 0.008) / 1.008 * np.pi / 2) ** 2 / np.cos(0.008 / 1.008 * np.pi / 2) ** 2
    np.testing.assert_allclose(cos.alpha(jnp.asarray(i / 1000)) ** 2, f, rtol=1e-3)
    assert float(cos.betas().max()) == pytest.approx(0.999)  # the clip


@pytest.mark.parametrize("name", ["vp", "subvp", "ve", "edm"])
def test_drift_and_diffusion_from_autodiff_match_the_sdes(name):
    with jax.enable_x64(True):
        p = gd.make_process(name)
        t = jnp.array([0.05, 0.3, 0.9]) if name != "edm" else jnp.array([0.01, 1.0, 30.0])
        f, g2 = p.drift_diffusion(t)
        beta = 0.1 + t * (20.0 - 0.1)
        integral = 0.1 * t + 0.5 * t**2 * (20.0 - 0.1)
        want = {"vp": (-0.5 * beta, beta),
                "subvp": (-0.5 * beta, beta * (1 - jnp.exp(-2 * integral))),
                "ve": (0 * t, 2 * p.sigma(t) ** 2 * math.log(50.0 / 0.01)),
                "edm": (0 * t, 2 * t)}[name]
        np.testing.assert_allclose(f, want[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(g2, want[1], rtol=1e-10)


def test_karras_grid_and_ddpm_grid():
    grid = gd.karras_grid(0.002, 80.0, 18)
    np.testing.assert_allclose(np.asarray(grid)[[0, -1]], [80.0, 0.002], rtol=1e-5)
    ramp = np.linspace(0, 1, 18)
    want = (80 ** (1 / 7) + ramp * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7
    np.testing.assert_allclose(grid, want, rtol=1e-5)
    np.testing.assert_allclose(gd.make_process("ddpm").grid(5) * 1000, [1000, 750, 500, 251, 1],
                               rtol=1e-6)


@pytest.mark.parametrize("prediction", gd.PREDICTIONS)
def test_each_parameterization_maps_its_target_back_to_the_data_and_noise(prediction):
    with jax.enable_x64(True):
        k1, k2 = jax.random.split(jax.random.PRNGKey(0))
        x0, eps = jax.random.normal(k1, (4, 3)), jax.random.normal(k2, (4, 3))
        alpha, sigma = jnp.array([1.0, 0.9, 0.3, 1.0]), jnp.array([0.01, 0.4, 0.95, 40.0])
        x = alpha[:, None] * x0 + sigma[:, None] * eps
        out = gd.target(prediction, x0, eps, alpha, sigma, 0.5)
        back = gd.denoise(prediction, out, x, alpha, sigma, 0.5)
        np.testing.assert_allclose(back[0], x0, atol=1e-10)
        np.testing.assert_allclose(back[1], eps, atol=1e-10)


# ----- samplers and likelihood under the analytic score ------------------------------------

CASES = [("vp", s) for s in gd.SAMPLERS if s != "pc"] + [
    ("edm", "heun"), ("edm", "dpmpp_2m"), ("ve", "euler"), ("ddpm", "ddim")]


@pytest.mark.parametrize("process, sampler", CASES)
def test_samplers_reproduce_gaussian_data_under_the_analytic_score(process, sampler):
    with jax.enable_x64(True):
        p = gd.make_process(process)
        denoise, marginal = analytic(p)
        steps = 250 if sampler == "ddpm" else 40
        x, nfe = gd.sample(denoise, p, prior_draws(p, marginal, 4000), jax.random.PRNGKey(2),
                           SamplerSettings(sampler, steps))
    assert x.shape == (4000, 3)
    np.testing.assert_allclose(x.mean(0), MU, atol=0.04)
    np.testing.assert_allclose(np.cov(np.asarray(x).T), SIGMA, atol=0.04 if sampler in (
        "heun", "dpmpp_2m", "adaptive", "ddpm") else 0.08)
    if sampler != "adaptive":
        assert int(nfe) == {"heun": 2 * steps - 1}.get(sampler, steps)


def test_predictor_corrector_in_higher_dimension():
    """Langevin's step size follows norms over the dimensions (Song et al.): checked in 32-d."""
    dim = 32
    mu, cov = np.linspace(-1, 1, dim), np.diag(np.linspace(0.2, 0.5, dim))
    with jax.enable_x64(True):
        p = gd.make_process("ve")
        denoise, marginal = analytic(p, mu, cov)
        x, _ = gd.sample(denoise, p, prior_draws(p, marginal, 3000), jax.random.PRNGKey(2),
                         SamplerSettings("pc", 150, snr=0.05))
    np.testing.assert_allclose(x.mean(0), mu, atol=0.06)
    np.testing.assert_allclose(np.cov(np.asarray(x).T), cov, atol=0.07)


def test_euler_is_ddim_and_ddim_is_deterministic():
    p = gd.make_process("vp")
    denoise, marginal = analytic(p)
    x = prior_draws(p, marginal, 64).astype(jnp.float32)
    run = lambda name, key: gd.sample(denoise, p, x, key, SamplerSettings(name, 20))[0]  # noqa: E731
    ddim = run("ddim", jax.random.PRNGKey(0))
    np.testing.assert_array_equal(ddim, run("ddim", jax.random.PRNGKey(1)))
    np.testing.assert_allclose(run("euler", jax.random.PRNGKey(0)), ddim, rtol=1e-5, atol=1e-5)
    assert not np.allclose(run("ddpm", jax.random.PRNGKey(0)), run("ddpm", jax.random.PRNGKey(1)))


def test_ddim_inversion_round_trip_converges_at_first_order():
    with jax.enable_x64(True):
        p = gd.make_process("vp")
        denoise, marginal = analytic(p)
        mean, cov = marginal(jnp.asarray(p.t_min))
        x = mean + jax.random.normal(jax.random.PRNGKey(0), (16, 3)) @ jnp.linalg.cholesky(cov).T

        def error(steps):
            z = gd.ddim_encode(denoise, p, x, steps)
            assert float(jnp.abs(z - x).max()) > 0.5  # it went somewhere
            return float(jnp.abs(gd.ddim_decode(denoise, p, z, steps) - x).max())

        coarse, fine = error(100), error(400)
    assert fine < 0.02 and 3.0 < coarse / fine < 5.0, (coarse, fine)


@pytest.mark.parametrize("process", ["vp", "subvp", "ve", "edm"])
def test_ode_likelihood_equals_the_gaussian_density(process):
    with jax.enable_x64(True):
        p = gd.make_process(process)
        denoise, marginal = analytic(p)
        m0, c0 = marginal(jnp.asarray(p.t_min))
        mt, ct = marginal(jnp.asarray(p.t_max))
        x = m0 + jax.random.normal(jax.random.PRNGKey(0), (5, 3)) @ jnp.linalg.cholesky(c0).T
        log_p, _ = _ode.log_likelihood(gd.probability_flow(denoise, p), x, p.t_min, p.t_max,
                                       lambda z: mvn.logpdf(z, mt, ct), jax.random.PRNGKey(1),
                                       rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(log_p, mvn.logpdf(x, m0, c0), atol=1e-5)


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_hutchinson_is_unbiased_for_the_exact_divergence(noise):
    with jax.enable_x64(True):
        w = jax.random.normal(jax.random.PRNGKey(0), (5, 5))
        field = lambda x, t: jnp.tanh(x @ w) * (1 + t)  # noqa: E731
        x = jax.random.normal(jax.random.PRNGKey(1), (2, 5))
        _, exact = _ode.divergence_fn(field, "exact")(x, 0.5, None)
        jac = jax.vmap(jax.jacfwd(lambda v: field(v[None], 0.5)[0]))(x)
        np.testing.assert_allclose(exact, jnp.trace(jac, axis1=1, axis2=2), rtol=1e-10)
        keys = jax.random.split(jax.random.PRNGKey(2), 4000)
        draw = {"gaussian": jax.random.normal,
                "rademacher": lambda k, s: jax.random.rademacher(k, s).astype(float)}[noise]
        est = jax.vmap(lambda k: _ode.divergence_fn(field, noise)(x, 0.5, draw(k, x.shape))[1])(
            keys)
    stderr = est.std(0) / np.sqrt(len(keys))
    assert np.all(np.abs(est.mean(0) - exact) < 4 * stderr), (est.mean(0), exact, stderr)


# ----- the DDPM bound ------------------------------------------------------------------------


def test_ddpm_bound_matches_its_closed_form_on_gaussian_data():
    """For 1-d data ``N(m, S)`` and the optimal denoiser every term's expectation is known:
    ``E[L_{i-1}] = coef_i^2 Var(x_0 | x_i) / (2 beta~_i)``, ``E[L_0] = Var(x_0 | x_1) / (2
    beta_1) + log(2 pi beta_1) / 2``, and ``L_N`` a KL of Gaussians. The one-step estimate
    averages to their sum, which lies above the true NLL (the entropy)."""
    m, var, n = 0.4, 0.3, 100
    with jax.enable_x64(True):
        p = gd.make_process("ddpm", num_timesteps=n, beta_max=5.0)
        denoise, _ = analytic(p, [m], [[var]])
        x = m + math.sqrt(var) * jax.random.normal(jax.random.PRNGKey(0), (100_000, 1))
        vlb = gd.ddpm_vlb(denoise, p, x, jax.random.PRNGKey(1))
    b = np.asarray(p.betas())
    ab = np.concatenate([[1.0], np.cumprod(1 - b)])
    post = var * (1 - ab) / (ab * var + 1 - ab)  # Var(x_0 | x_i)
    i = np.arange(2, n + 1)
    middle = np.sum((np.sqrt(ab[i - 1]) * b[i - 1] / (1 - ab[i])) ** 2 * post[i]
                    / (2 * b[i - 1] * (1 - ab[i - 1]) / (1 - ab[i])))
    v_n = ab[n] * var + 1 - ab[n]
    prior = 0.5 * (v_n + ab[n] * m**2 - 1 - np.log(v_n))
    decoder = post[1] / (2 * b[0]) + 0.5 * np.log(2 * np.pi * b[0])
    expected = prior + middle + decoder
    stderr = float(vlb.std()) / math.sqrt(len(vlb))
    assert abs(float(vlb.mean()) - expected) < 4 * stderr, (float(vlb.mean()), expected, stderr)
    assert expected > 0.5 * math.log(2 * math.pi * math.e * var)


# ----- the family ----------------------------------------------------------------------------

VEC3 = DatasetInfo("vec3", (3,), 3, None)


def test_guidance_scale_zero_is_the_unconditional_model_and_one_the_conditional():
    model = models.build("diffusion", models.DiffusionConfig(hidden=(16,), conditional=True),
                         VEC3)
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 3))
    variables = model.init(jax.random.PRNGKey(1), {"x": x, "label": jnp.zeros(4, jnp.int32)})
    rng = np.random.default_rng(2)  # move every parameter off its initial value
    variables = jax.tree.map(lambda v: v + 0.3 * rng.standard_normal(v.shape, np.float32),
                             variables)
    label = jnp.array([0, 1, 2, 1])
    t = jnp.asarray(0.4)
    cond = model.denoiser(variables, label, 1.0)(x, t)[1]
    uncond = model.denoiser(variables, None, 0.0)(x, t)[1]
    null = model.denoiser(variables, jnp.full(4, 3), 1.0)(x, t)[1]  # the null label
    np.testing.assert_allclose(uncond, null, rtol=1e-6)
    assert not np.allclose(cond, uncond, atol=1e-3)
    guided = model.denoiser(variables, label, 3.0)(x, t)[1]
    np.testing.assert_allclose(guided, uncond + 3.0 * (cond - uncond), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="pass labels"):
        model.sample_with(variables, jax.random.PRNGKey(0), 2, SamplerSettings())


@pytest.mark.parametrize("cfg, info, match", [
    (models.DiffusionConfig(), DatasetInfo("v", (3,), 0, None), None),
    (models.DiffusionConfig(arch="unet"), VEC3, "needs images"),
    (models.DiffusionConfig(channel_mult=(1, 2, 2, 2, 2)), DatasetInfo("d", (8, 8, 1), 10, 17),
     "divisible by 16"),
    (models.DiffusionConfig(conditional=True), DatasetInfo("v", (3,), 0, None), "needs labels"),
    (models.DiffusionConfig(guidance_scale=2.0), VEC3, "needs a conditional"),
    (models.DiffusionConfig(sampler="plms"), VEC3, "unknown sampler"),
    (models.DiffusionConfig(steps=2000), VEC3, "exceed"),
    (models.DiffusionConfig(process="ve", sigma_min=5.0, sigma_max=1.0), VEC3, "sigma_min"),
    (models.DiffusionConfig(process="edm", t_min=0.1), VEC3, "set sigma_min"),
    (models.DiffusionConfig(num_timesteps=20, steps=4), VEC3, "beta_max < num_timesteps"),
])
def test_configs_that_do_not_fit_say_why(cfg, info, match):
    if match is None:
        models.build("diffusion", cfg, info)
        return
    with pytest.raises(ValueError, match=match):
        models.build("diffusion", cfg, info)


@pytest.mark.parametrize("process, prediction", [("edm", "edm")])  # vp with v: as close
def test_trained_model_reaches_the_entropy_of_a_known_gaussian(process, prediction):
    """Denoising score matching on a correlated 2-d Gaussian: the held-out ODE NLL lands within
    0.05 nats of the true entropy, and DDIM samples reproduce its mean and covariance."""
    check_trained_on_a_gaussian("diffusion", models.DiffusionConfig(
        process=process, prediction=prediction, hidden=(64, 64)), steps=2000)


def test_from_noise_is_ddim_from_that_start_and_to_noise_its_inversion():
    info = DatasetInfo("digits", (8, 8, 1), 10, 17)
    model = models.build("diffusion", gd.DiffusionConfig(arch="mlp", hidden=(16,), steps=8),
                         info)
    variables = model.init(jax.random.PRNGKey(0), {"x": jnp.zeros((2, 8, 8, 1))})
    key = jax.random.PRNGKey(3)
    x = jax.random.uniform(jax.random.PRNGKey(5), (4, 8, 8, 1))

    def outputs(variables):  # one compiled program
        noise = jax.random.normal(jax.random.split(key)[0], (4, 8, 8, 1))
        den = model.denoiser(variables, None, 1.0, clip=True)
        return (model.from_noise(variables, noise), model.sample(variables, key, 4),
                model.to_noise(variables, x),
                gd.ddim_encode(den, model.process, 2 * x - 1, 8) / model.process.prior_std())

    made, sampled, recovered, encoded = jax.jit(outputs)(variables)
    np.testing.assert_array_equal(made, sampled)  # the ddim sampler (eta 0) from that start
    np.testing.assert_allclose(recovered, encoded, rtol=1e-6)
