"""Flow matching against closed forms: the paths and their velocities, the OT coupling, the
samplers and the ODE likelihood under the analytic velocity of Gaussian data, and a trained
2-d model against the true entropy."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.stats import multivariate_normal as mvn

from gen_jax import models
from gen_jax.data import DatasetInfo
from gen_jax.models import SamplerSettings, _ode
from gen_jax.models import flow_matching as fm

from .continuous_toy import check_trained_on_a_gaussian

MU = np.array([1.0, -0.5])
SIGMA = np.array([[0.5, 0.2], [0.2, 0.3]])


def analytic_velocity(mu=MU, cov=SIGMA):
    """``E[x_1 - x_0 | x_t = x]`` of the rectified path from ``N(0, I)`` to ``N(mu, cov)``
    (independent coupling): ``x_t`` is Gaussian with covariance ``t^2 cov + (1 - t)^2 I``."""
    mu, cov = jnp.asarray(mu), jnp.asarray(cov)
    eye = jnp.eye(len(mu))

    def field(x, t):
        c = t**2 * cov + (1 - t) ** 2 * eye
        w = jnp.linalg.solve(c, (x - t * mu).T).T
        return mu + t * w @ cov - (1 - t) * w

    return field


@pytest.mark.parametrize("path", ["rectified", "gaussian"])
def test_paths_join_noise_to_data_with_their_velocity(path):
    k0, k1 = jax.random.split(jax.random.PRNGKey(0))
    x0, x1 = jax.random.normal(k0, (3, 2)), jax.random.normal(k1, (3, 2))
    start, _ = fm.interpolate(path, x0, x1, jnp.zeros(3), 1e-2)
    end, _ = fm.interpolate(path, x0, x1, jnp.ones(3), 1e-2)
    np.testing.assert_allclose(start, x0, rtol=1e-6)
    np.testing.assert_allclose(end, x1 + (1e-2 * x0 if path == "gaussian" else 0), rtol=1e-6,
                               atol=1e-6)
    t = jnp.array([0.1, 0.5, 0.9])
    _, velocity = fm.interpolate(path, x0, x1, t, 1e-2)
    _, dt = jax.jvp(lambda s: fm.interpolate(path, x0, x1, s, 1e-2)[0], (t,), (jnp.ones(3),))
    np.testing.assert_allclose(velocity, dt, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("epsilon", [0.0, 1e-3])
def test_ot_coupling_recovers_a_permutation(epsilon):
    x0 = jax.random.normal(jax.random.PRNGKey(0), (32, 3))
    perm = jax.random.permutation(jax.random.PRNGKey(1), 32)
    x1 = x0[perm] + 0.01
    if epsilon:
        plan = fm.ot_plan(x0, x1, epsilon)
        np.testing.assert_allclose(plan.sum(1), 1 / 32, rtol=1e-3)  # Sinkhorn's marginals
        np.testing.assert_allclose(plan.sum(0), 1 / 32, rtol=0.05)
    i, j = jax.jit(fm.ot_pairs, static_argnums=3)(jax.random.PRNGKey(2), x0, x1, epsilon)
    np.testing.assert_allclose(x1[j], x0[i] + 0.01, atol=1e-5)  # each pair is the match


@pytest.mark.parametrize("sampler, steps, tol", [("euler", 100, 0.05), ("heun", 20, 0.03),
                                                  ("adaptive", 0, 0.03)])
def test_samplers_reproduce_gaussian_data_under_the_analytic_velocity(sampler, steps, tol):
    with jax.enable_x64(True):
        field = analytic_velocity()
        z = jax.random.normal(jax.random.PRNGKey(0), (4000, 2))
        if sampler == "adaptive":
            x, _ = _ode.adaptive(field, z, 0.0, 1.0)
        else:
            x = _ode.fixed_step(field, z, jnp.linspace(0.0, 1.0, steps + 1), sampler)
    np.testing.assert_allclose(x.mean(0), MU, atol=tol)
    np.testing.assert_allclose(np.cov(np.asarray(x).T), SIGMA, atol=tol)


def test_ode_likelihood_equals_the_gaussian_density():
    with jax.enable_x64(True):
        x = jnp.asarray(MU) + jax.random.normal(jax.random.PRNGKey(0), (5, 2)) @ jnp.asarray(
            np.linalg.cholesky(SIGMA)).T
        log_p, _ = _ode.log_likelihood(analytic_velocity(), x, 1.0, 0.0,
                                       _ode.gaussian_prior(1.0), jax.random.PRNGKey(1),
                                       rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(log_p, mvn.logpdf(x, MU, SIGMA), atol=1e-5)


@pytest.mark.parametrize("cfg, match", [
    (models.FlowMatchingConfig(sampler="ddim"), "unknown sampler"),
    (models.FlowMatchingConfig(coupling="sinkhorn"), "unknown coupling"),
    (models.FlowMatchingConfig(path="gaussian", sigma_min=1.5), "sigma_min"),
])
def test_configs_that_do_not_fit_say_why(cfg, match):
    with pytest.raises(ValueError, match=match):
        models.build("flow_matching", cfg, DatasetInfo("v", (3,), 0, None))


def test_trained_model_reaches_the_entropy_of_a_known_gaussian():
    """Flow matching on a correlated 2-d Gaussian: the held-out ODE NLL lands within 0.05 nats
    of the true entropy, and Euler samples (20 steps) reproduce its mean and covariance."""
    check_trained_on_a_gaussian("flow_matching", models.FlowMatchingConfig(
        hidden=(64, 64), steps=20), steps=1200)


def test_network_evaluations_per_sample_path():
    info = DatasetInfo("v", (3,), 3, None)
    flow = models.build("flow_matching", models.FlowMatchingConfig(conditional=True), info)
    diff = models.build("diffusion", models.DiffusionConfig(conditional=True), info)
    assert flow.sampler_nfe(SamplerSettings("euler", 10)) == 10
    assert flow.sampler_nfe(SamplerSettings("heun", 10)) == 20
    assert flow.sampler_nfe(SamplerSettings("heun", 10, guidance_scale=3.0)) == 40
    assert flow.sampler_nfe(SamplerSettings("adaptive")) is None
    assert diff.sampler_nfe(SamplerSettings("heun", 10)) == 19
    assert diff.sampler_nfe(SamplerSettings("pc", 10, corrector_steps=2)) == 28
    assert diff.sampler_nfe(SamplerSettings("ddim", 10, guidance_scale=0.0)) == 10
    assert flow.sampler_names() == fm.SAMPLERS and "dpmpp_2m" in diff.sampler_names()


def test_from_noise_is_the_sampler_from_that_start_and_to_noise_runs_it_back():
    info = DatasetInfo("digits", (8, 8, 1), 10, 17)
    model = models.build("flow_matching", fm.FlowMatchingConfig(
        arch="mlp", hidden=(16,), sampler="heun", steps=20), info)
    variables = model.init(jax.random.PRNGKey(0), {"x": jnp.zeros((2, 8, 8, 1))})
    leaves, tree = jax.tree.flatten(variables)  # a velocity field that is not zero
    keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    variables = jax.tree.unflatten(tree, [v + 0.05 * jax.random.normal(k, v.shape)
                                          for v, k in zip(leaves, keys, strict=True)])
    key = jax.random.PRNGKey(3)
    x = jax.random.uniform(jax.random.PRNGKey(5), (4, 8, 8, 1), minval=0.2, maxval=0.8)

    def outputs(variables):  # one compiled program
        noise = model.to_noise(variables, x)
        return (model.from_noise(variables, jax.random.normal(key, (4, 8, 8, 1))),
                model.sample(variables, key, 4), noise, model.from_noise(variables, noise))

    made, sampled, noise, back = jax.jit(outputs)(variables)
    np.testing.assert_array_equal(made, sampled)  # the sampler from that start
    assert float(jnp.max(jnp.abs(noise - (2 * x - 1)))) > 0.1  # the field moved it
    np.testing.assert_allclose(back, x, atol=2e-3)
