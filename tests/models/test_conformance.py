"""Every registered family against the contract: what it declares, it does.

A new family registered in ``gen_jax.models.FAMILIES`` is checked here with no edit to this
file: init, one jitted training step through the engine's own step, evaluate's per-example
metrics, the anomaly score, and each capability it implements.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import models
from gen_jax.config import DataConfig, OptimConfig
from gen_jax.data import DatasetInfo
from gen_jax.train import TrainState, make_optimizer, make_preprocess, make_train_step

DIGITS8 = DatasetInfo("digits", (8, 8, 1), 10, 17, {"train": 1797})
BATCH = 8


def _stored_batch(seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.integers(0, 17, (BATCH, 8, 8, 1), dtype=np.uint8),
            "label": rng.integers(0, 10, (BATCH,), dtype=np.int32)}


@pytest.fixture(scope="module", params=list(models.FAMILIES))
def built(request):
    """``(family, model, preprocess, state, model-space batch)`` for the family's tiny config."""
    family = models.FAMILIES[request.param]
    model = family.build(family.tiny(), DIGITS8)
    preprocess = make_preprocess(DIGITS8, DataConfig(), model)
    batch = preprocess(_stored_batch(), jax.random.PRNGKey(1))
    variables = jax.jit(model.init)(jax.random.PRNGKey(0), batch)
    make_tx = model.make_optimizer if isinstance(model, models.OwnUpdate) else make_optimizer
    state = TrainState.create(params=variables["params"],
                              batch_stats=variables.get("batch_stats"),
                              tx=make_tx(OptimConfig(learning_rate=1e-2, ema_decay=0.9), 10),
                              rng=jax.random.PRNGKey(2), ema_decay=0.9)
    return family, model, preprocess, state, batch


def test_the_core_contract(built):
    family, model, _, _, _ = built
    assert isinstance(model, models.GenerativeModel)
    assert model.info == DIGITS8 and model.num_classes == 0
    assert models.name_of(family.tiny()) == family.name
    # Something to show a user: samples, or (no prior) reconstructions.
    assert isinstance(model, models.Sampling | models.Reconstruction)


def test_one_jitted_engine_step_moves_the_parameters(built):
    _, model, preprocess, state, _ = built
    step = jax.jit(make_train_step(model, preprocess))
    new, metrics = step(state, _stored_batch())
    assert int(new.step) == 1 and int(new.skipped) == 0
    assert float(metrics["nonfinite"]) == 0.0 and np.isfinite(float(metrics["loss"]))
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), new.params, state.params)
    assert any(jax.tree.leaves(moved))
    assert jax.tree.structure(new) == jax.tree.structure(state)


def test_evaluate_and_the_anomaly_score_are_per_example(built):
    _, model, _, state, batch = built
    variables = state.variables(ema=True)
    if isinstance(model, models.SamplingVariables):
        variables = model.sampling_variables(variables)
        assert jax.tree.structure(variables) == jax.tree.structure(state.variables(ema=True))
    key = jax.random.PRNGKey(3)
    metrics = jax.jit(model.evaluate)(variables, batch, key)
    assert metrics and all(v.shape == (BATCH,) for v in metrics.values()), {
        k: v.shape for k, v in metrics.items()}
    score = jax.jit(model.anomaly_score)(variables, batch, key)
    assert score.shape == (BATCH,) and bool(jnp.all(jnp.isfinite(score)))


def test_each_declared_capability_does_what_it_says(built):
    _, model, _, state, batch = built
    variables, key, x = state.variables(ema=True), jax.random.PRNGKey(4), batch["x"]
    if isinstance(model, models.Sampling):
        samples = model.sample(variables, key, 5)
        assert samples.shape == (5, 8, 8, 1)
        assert bool(jnp.all((samples >= 0) & (samples <= 1)))  # image data lives in [0, 1]
    if isinstance(model, models.TemperatureSampling):
        assert model.sample_at_temperature(variables, key, 3, 0.5).shape == (3, 8, 8, 1)
    if isinstance(model, models.ExactLikelihood):
        log_p = model.log_prob(variables, x)
        assert log_p.shape == (BATCH,)
        # the anomaly score of an exact likelihood is its NLL (up to the discrete offset)
        score = model.anomaly_score(variables, batch, key)
        offset = DIGITS8.dim * np.log(17)
        np.testing.assert_allclose(score, -log_p + offset, rtol=1e-5)
    if isinstance(model, models.LikelihoodBound):
        log_w = model.log_importance_weights(variables, x, key, 3)
        assert log_w.shape == (3, BATCH)
        assert model.bound_in_bits(DataConfig()) in (True, False)
    if isinstance(model, models.Reconstruction):
        assert model.reconstruct(variables, x).shape == x.shape
    if isinstance(model, models.DataDependentInit):
        assert model.init_examples() >= 0
    if isinstance(model, models.DataRequirements):
        model.check_data(DataConfig())  # the defaults suit every family
        assert model.dequantizes() in (True, False)


@pytest.mark.parametrize("name", list(models.FAMILIES))
def test_a_float64_model_initializes_float64_variables(name):
    family = models.FAMILIES[name]
    with jax.enable_x64(True):
        model = family.build(family.tiny(), DIGITS8, dtype=jnp.float64)
        x = jnp.asarray(_stored_batch()["x"], jnp.float64) / 16.0
        variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), {"x": x})
        dtypes = {v.dtype for v in jax.tree.leaves(variables)
                  if jnp.issubdtype(v.dtype, jnp.floating)}
    assert dtypes == {jnp.dtype(jnp.float64)}


def test_capabilities_are_listed_by_name():
    names = {name: models.capabilities(models.FAMILIES[name].build(
        models.FAMILIES[name].tiny(), DIGITS8)) for name in ("ae", "vae", "gan", "glow")}
    assert names["ae"] == ("Reconstruction",)
    assert names["vae"] == ("Sampling", "LikelihoodBound", "Reconstruction")
    assert names["gan"] == ("Sampling", "SamplingVariables", "OwnUpdate")
    assert names["glow"] == ("Sampling", "TemperatureSampling", "ExactLikelihood",
                             "DataDependentInit", "DataRequirements")


def test_a_registered_family_is_refused_twice():
    family = models.FAMILIES["vae"]
    with pytest.raises(ValueError, match="already registered"):
        models.register(family)
    with pytest.raises(ValueError, match="VAEConfig is already the config of family 'vae'"):
        models.register(models.Family("vae2", family.config, family.builder, "", family.tiny))
