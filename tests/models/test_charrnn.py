"""The autoregressive language models (CharRNN, the Transformer LM): exact likelihoods against
brute-force sums, samples against them, the filters."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from gen_jax.config import DataConfig
from gen_jax.data import DatasetInfo
from gen_jax.models import CharRNN, CharRNNConfig, TransformerLM, TransformerLMConfig
from gen_jax.models._sequences import filter_logits

TEXT = DatasetInfo("toy_text", (5,), 0, 5, {}, vocabulary=("<pad>", "<bos>", "<eos>", "A", "B"))
"""Up to 3 tokens of A and B between <bos> and <eos>: 15 possible sequences."""


def _text_sequences():
    rows = []
    for n in range(4):
        for word in itertools.product((3, 4), repeat=n):
            rows.append([1, *word, 2] + [0] * (3 - n))
    return np.array(rows, np.int32)


def _built(cell, embed_dim):
    model = CharRNN(CharRNNConfig(cell=cell, hidden=8, num_layers=2, embed_dim=embed_dim), TEXT)
    x = jnp.asarray(_text_sequences() / 4.0, jnp.float32)
    variables = jax.jit(model.init)(jax.random.PRNGKey(0), {"x": x})
    # larger weights than the init, so the distribution is far from uniform
    variables = jax.tree.map(lambda v: 3.0 * v, variables)
    return model, variables, x


@pytest.fixture(scope="module")
def text_model():
    return _built("lstm", None)


def test_a_gru_with_embeddings_sums_to_one_too():
    model, variables, x = _built("gru", 4)
    assert float(jnp.sum(jnp.exp(model.log_mass(variables, x)))) == pytest.approx(1.0, abs=1e-5)


def test_probabilities_of_every_sequence_sum_to_one(text_model):
    model, variables, x = text_model
    log_mass = model.log_mass(variables, x)
    assert float(jnp.sum(jnp.exp(log_mass))) == pytest.approx(1.0, abs=1e-5)
    assert float(jnp.max(jnp.exp(log_mass))) > 2 / 15  # not uniform
    np.testing.assert_allclose(model.log_prob(variables, x), log_mass + 5 * np.log(5), rtol=1e-6)
    scores = model.anomaly_score(variables, {"x": x}, jax.random.PRNGKey(0))
    np.testing.assert_allclose(scores, -log_mass, rtol=1e-6)
    per_token = model.evaluate(variables, {"x": x}, jax.random.PRNGKey(0))["nll_per_token"]
    lengths = (_text_sequences() > 1).sum(1)  # tokens and <eos>
    np.testing.assert_allclose(per_token, -log_mass / lengths, rtol=1e-5)


def test_samples_follow_the_likelihood(text_model):
    model, variables, x = text_model
    ids = np.asarray(jax.jit(model.sample_ids, static_argnums=2)(
        variables, jax.random.PRNGKey(1), 6000))
    rows = [tuple(r) for r in _text_sequences()]
    counts = np.array([sum(1 for s in map(tuple, ids) if s == r) for r in rows])
    assert counts.sum() == 6000  # every sample is a well-formed sequence
    expected = 6000 * np.exp(np.asarray(model.log_mass(variables, x), np.float64))
    assert scipy.stats.chisquare(counts, expected / expected.sum() * 6000).pvalue > 1e-3
    scaled = model.sample(variables, jax.random.PRNGKey(1), 7)
    assert scaled.shape == (7, 5) and float(scaled.max()) <= 1.0


def test_the_transformer_sums_to_one_and_samples_follow_it():
    model = TransformerLM(TransformerLMConfig(num_layers=2, d_model=16, num_heads=2, mlp_dim=32,
                                              dropout=0.0), TEXT)
    x = jnp.asarray(_text_sequences() / 4.0, jnp.float32)
    variables = jax.jit(model.init)(jax.random.PRNGKey(0), {"x": x})
    variables = jax.tree.map(lambda v: 3.0 * v, variables)
    log_mass = model.log_mass(variables, x)
    assert float(jnp.sum(jnp.exp(log_mass))) == pytest.approx(1.0, abs=1e-5)
    ids = np.asarray(jax.jit(model.sample_ids, static_argnums=2)(
        variables, jax.random.PRNGKey(1), 4000))
    rows = [tuple(r) for r in _text_sequences()]
    counts = np.array([sum(1 for s in map(tuple, ids) if s == r) for r in rows])
    assert counts.sum() == 4000
    expected = np.exp(np.asarray(log_mass, np.float64))
    assert scipy.stats.chisquare(counts, expected / expected.sum() * 4000).pvalue > 1e-3


def test_other_discrete_data_is_a_sequence_of_its_values():
    info = DatasetInfo("tiny", (3, 1), 0, 3, {})
    model = CharRNN(CharRNNConfig(hidden=6, num_layers=1, dropout=0.0), info)
    grid = np.array(list(itertools.product(range(3), repeat=3)), np.float32).reshape(27, 3, 1)
    variables = model.init(jax.random.PRNGKey(0), {"x": jnp.asarray(grid / 2)})
    log_mass = model.log_mass(variables, jnp.asarray(grid / 2))
    assert float(jnp.sum(jnp.exp(log_mass))) == pytest.approx(1.0, abs=1e-5)


def test_training_lowers_the_likelihood_loss(text_model):
    model, variables, x = text_model
    batch = {"x": x[:4]}

    def loss(v):
        return model.loss(v, batch, jax.random.PRNGKey(0), train=False)[0]

    before = loss(variables)
    grad = jax.grad(loss)(variables)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grad))
    after = loss(jax.tree.map(lambda v, g: v - 0.05 * g, variables, grad))
    assert float(after) < float(before)


def test_top_k_and_nucleus_filters():
    logits = jnp.log(jnp.array([[0.5, 0.3, 0.15, 0.05]]))
    kept = lambda out: np.isfinite(np.asarray(out[0])).tolist()  # noqa: E731
    assert kept(filter_logits(logits, 2, None)) == [True, True, False, False]
    assert kept(filter_logits(logits, None, 0.8)) == [True, True, False, False]
    assert kept(filter_logits(logits, None, 0.81)) == [True, True, True, False]
    assert kept(filter_logits(logits[:, ::-1], None, 0.4)) == [False, False, False, True]
    assert kept(filter_logits(logits, None, None)) == [True] * 4


def test_bad_settings_are_one_line():
    with pytest.raises(ValueError, match="charrnn models discrete data"):
        CharRNN(CharRNNConfig(), DatasetInfo("points", (2,), 0, None, {}))
    with pytest.raises(ValueError, match="top_p must lie in"):
        CharRNNConfig(top_p=1.5)
    with pytest.raises(ValueError, match="cell must be lstm or gru"):
        CharRNNConfig(cell="rnn")
    model = CharRNN(CharRNNConfig(hidden=4, num_layers=1), TEXT)
    with pytest.raises(ValueError, match="drop data.binarize"):
        model.check_data(DataConfig(binarize=True))
    with pytest.raises(ValueError, match="<eos> structure"):
        model.check_data(DataConfig(perturb=0.1))
