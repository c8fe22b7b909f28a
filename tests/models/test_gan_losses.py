"""GAN losses against hand-computed values; gradient penalty and R1 against finite differences."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.models import discriminator_loss, generator_loss, gradient_penalty, r1_penalty

D_REAL = jnp.asarray([2.0, -0.5])
D_FAKE = jnp.asarray([0.0, 1.5, -3.0])


def _softplus(v):
    return math.log1p(math.exp(v))


def test_non_saturating_by_hand():
    # D: -log sigmoid(d_real) averaged + -log(1 - sigmoid(d_fake)) averaged.
    d = (_softplus(-2.0) + _softplus(0.5)) / 2 + (_softplus(0.0) + _softplus(1.5)
                                                 + _softplus(-3.0)) / 3
    g = (_softplus(0.0) + _softplus(-1.5) + _softplus(3.0)) / 3
    np.testing.assert_allclose(discriminator_loss("non_saturating", D_REAL, D_FAKE), d,
                               rtol=1e-6)
    np.testing.assert_allclose(generator_loss("non_saturating", D_FAKE), g, rtol=1e-6)
    # The same through probabilities: -mean log D(x) - mean log(1 - D(G(z))), D = sigmoid.
    p_real = [1 / (1 + math.exp(-v)) for v in D_REAL]
    p_fake = [1 / (1 + math.exp(-v)) for v in D_FAKE]
    by_probability = (-np.mean(np.log(p_real)) - np.mean(np.log(1 - np.asarray(p_fake))))
    np.testing.assert_allclose(discriminator_loss("non_saturating", D_REAL, D_FAKE),
                               by_probability, rtol=1e-6)


def test_hinge_by_hand():
    # D: relu(1 - 2) = 0, relu(1 + 0.5) = 1.5 -> 0.75;
    #    relu(1 + 0) = 1, relu(1 + 1.5) = 2.5, relu(1 - 3) = 0 -> 3.5 / 3.
    np.testing.assert_allclose(discriminator_loss("hinge", D_REAL, D_FAKE), 0.75 + 3.5 / 3,
                               rtol=1e-6)
    np.testing.assert_allclose(generator_loss("hinge", D_FAKE), 1.5 / 3, rtol=1e-6)


def test_wasserstein_by_hand():
    # mean fake (-1.5 / 3 = -0.5) - mean real (0.75) = -1.25; G: -mean fake = 0.5.
    np.testing.assert_allclose(discriminator_loss("wasserstein", D_REAL, D_FAKE), -1.25,
                               rtol=1e-6)
    np.testing.assert_allclose(generator_loss("wasserstein", D_FAKE), 0.5, rtol=1e-6)


def test_unknown_loss_is_a_value_error():
    with pytest.raises(ValueError, match="unknown GAN loss 'lsgan'"):
        discriminator_loss("lsgan", D_REAL, D_FAKE)


# A smooth nonlinear critic with rows independent, in float64 for finite differences.
_W = np.random.default_rng(0).normal(size=(3, 6))
_V = np.random.default_rng(1).normal(size=(6,))


def _critic(x):
    return jnp.tanh(x.reshape(x.shape[0], -1) @ _W) @ _V


def _fd_grad_norms(x, h=1e-6):
    """Central finite differences of the critic, per row, in numpy float64."""
    x = np.asarray(x, np.float64)
    out = []
    for row in x:
        g = np.zeros_like(row)
        for i in np.ndindex(row.shape):
            e = np.zeros_like(row)
            e[i] = h
            f = lambda v: float(_critic(jnp.asarray(v[None]))[0])  # noqa: E731
            g[i] = (f(row + e) - f(row - e)) / (2 * h)
        out.append(np.sqrt(np.sum(g**2)))
    return np.asarray(out)


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def test_r1_penalty_matches_finite_differences():
    x = np.random.default_rng(2).normal(size=(4, 3))
    expected = np.mean(_fd_grad_norms(x) ** 2)
    np.testing.assert_allclose(float(r1_penalty(_critic, jnp.asarray(x))), expected, rtol=1e-6)
    assert expected > 0.1  # not trivially zero


def test_gradient_penalty_matches_finite_differences():
    rng = np.random.default_rng(3)
    x_real, x_fake = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)) + 2.0
    key = jax.random.PRNGKey(7)
    eps = np.asarray(jax.random.uniform(key, (5, 1), jnp.float64))  # the draw the penalty makes
    x_hat = eps * x_real + (1 - eps) * x_fake
    expected = np.mean((_fd_grad_norms(x_hat) - 1.0) ** 2)
    got = float(gradient_penalty(_critic, jnp.asarray(x_real), jnp.asarray(x_fake), key))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # One interpolation weight for the whole batch would give another value: per row it is.
    shared = eps.mean() * x_real + (1 - eps.mean()) * x_fake
    assert abs(np.mean((_fd_grad_norms(shared) - 1.0) ** 2) - got) > 1e-3 * expected
