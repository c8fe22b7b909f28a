"""The sequence VAE: p(x | z) sums to one, the importance-sampled bound against quadrature of
p(x) over a one-dimensional latent, KL annealing through the engine's step, free bits."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss

from gen_jax.config import DataConfig, OptimConfig
from gen_jax.data import DatasetInfo
from gen_jax.models import MolVAE, MolVAEConfig
from gen_jax.train import TrainState, make_optimizer, make_preprocess, make_train_step

TEXT = DatasetInfo("toy_text", (5,), 0, 5, {}, vocabulary=("<pad>", "<bos>", "<eos>", "A", "B"))
CONFIG = MolVAEConfig(embed_dim=4, encoder_hidden=6, latent_dim=1, decoder_hidden=8,
                      decoder_layers=2, kl_anneal_steps=10, kl_weight_start=0.1,
                      kl_weight_end=0.5)


def _sequences():
    rows = [[1, *w, 2] + [0] * (3 - n) for n in range(4) for w in itertools.product((3, 4),
                                                                                     repeat=n)]
    return jnp.asarray(np.array(rows) / 4.0, jnp.float32)


@pytest.fixture(scope="module")
def built():
    model = MolVAE(CONFIG, TEXT)
    x = _sequences()
    variables = jax.jit(model.init)(jax.random.PRNGKey(0), {"x": x})
    return model, variables, x


def test_decoder_probabilities_sum_to_one_and_the_bound_meets_quadrature(built):
    model, variables, x = built
    ids = model.seq.ids(x)
    z = jnp.full((15, 1), 0.7)
    assert float(jnp.sum(jnp.exp(model._log_likelihood(variables, ids, z)))) == pytest.approx(
        1.0, abs=1e-5)
    # log p(x) = log E_{z ~ N(0, 1)} p(x | z), by Gauss-Hermite quadrature over the 1-d latent
    nodes, weights = hermegauss(80)
    log_lik = jax.jit(model._log_likelihood)(
        variables, jnp.tile(ids, (80, 1)), jnp.repeat(jnp.asarray(nodes, jnp.float32), 15)[:, None]
    ).reshape(80, 15)
    log_px = jax.scipy.special.logsumexp(log_lik + jnp.log(weights / weights.sum())[:, None],
                                         axis=0)
    assert float(jnp.sum(jnp.exp(log_px))) == pytest.approx(1.0, abs=1e-4)
    # a broad proposal N(0.3, 1.5^2) (posterior net zeroed) makes 4000 draws plenty
    params = dict(variables["params"])
    params["to_posterior"] = {"kernel": jnp.zeros_like(params["to_posterior"]["kernel"]),
                              "bias": jnp.array([0.3, np.log(2.25)], jnp.float32)}
    log_w = jax.jit(model.log_importance_weights, static_argnums=3)(
        {"params": params}, x, jax.random.PRNGKey(1), 4000)
    iwae = jax.scipy.special.logsumexp(log_w, axis=0) - jnp.log(4000.0)
    np.testing.assert_allclose(iwae, log_px, atol=0.03)
    assert bool(jnp.all(jnp.mean(log_w, axis=0) <= log_px))  # the ELBO is below


def test_the_engine_step_anneals_the_kl_weight(built):
    model, variables, x = built
    assert [float(model.kl_weight(s)) for s in (0, 5, 10, 50)] == pytest.approx(
        [0.1, 0.3, 0.5, 0.5])
    preprocess = make_preprocess(TEXT, DataConfig(), model)
    state = TrainState.create(params=variables["params"], batch_stats=None,
                              tx=make_optimizer(OptimConfig(learning_rate=1e-3), 10),
                              rng=jax.random.PRNGKey(3), ema_decay=None)
    step = jax.jit(make_train_step(model, preprocess))
    stored = {"x": np.asarray(model.seq.ids(x), np.uint8)}
    for want in (0.1, 0.14, 0.18):
        state, metrics = step(state, stored)
        assert float(metrics["kl_weight"]) == pytest.approx(want)


def test_free_bits_floor_each_dimension(built):
    model, variables, x = built
    free = MolVAE(MolVAEConfig(**{**CONFIG.__dict__, "free_bits": 50.0}), TEXT)
    key = jax.random.PRNGKey(4)
    loss, (metrics, _) = free.loss_at(variables, {"x": x}, key, jnp.asarray(10))
    assert float(metrics["kl"]) < 50.0
    assert float(loss) == pytest.approx(float(metrics["recon_per_token"]) + 0.5 * 50.0, rel=1e-5)


def test_bad_settings_are_one_line():
    with pytest.raises(ValueError, match="molvae models discrete data"):
        MolVAE(CONFIG, DatasetInfo("points", (2,), 0, None, {}))
    with pytest.raises(ValueError, match="latent_dim must be positive"):
        MolVAEConfig(latent_dim=0)
    with pytest.raises(ValueError, match="drop data.binarize"):
        MolVAE(CONFIG, TEXT).check_data(DataConfig(dequantize=True))
