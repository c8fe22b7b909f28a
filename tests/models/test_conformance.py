"""Every registered family against the contract: what it declares, it does.

A new family registered in ``gen_jax.models.FAMILIES`` is checked here with no edit to this
file: init, one jitted training step through the engine's own step, evaluate's per-example
metrics, the anomaly score, and each capability it implements.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import models
from gen_jax.config import DataConfig, OptimConfig
from gen_jax.data import DatasetInfo
from gen_jax.train import TrainState, make_optimizer, make_preprocess, make_train_step

DIGITS8 = DatasetInfo("digits", (8, 8, 1), 10, 17, {"train": 1797})
# A translation family's data: digits paired with themselves, or beside a colour domain.
COLOUR8 = DatasetInfo("colour_digits", (8, 8, 3), 10, 17, {"train": 1797})
PAIRS = {"paired": dataclasses.replace(DIGITS8, target=DIGITS8, paired=True),
         "unpaired": dataclasses.replace(DIGITS8, target=COLOUR8)}
BATCH = 8


def _info(family):
    return DIGITS8 if family.translates is None else PAIRS[family.translates]


def _stored_batch(seed=0, info=DIGITS8):
    rng = np.random.default_rng(seed)
    out = {"x": rng.integers(0, 17, (BATCH, 8, 8, 1), dtype=np.uint8),
           "label": rng.integers(0, 10, (BATCH,), dtype=np.int32)}
    if info.target is not None:
        out["y"] = rng.integers(0, 17, (BATCH, *info.target.shape), dtype=np.uint8)
    return out


@pytest.fixture(scope="module", params=list(models.FAMILIES))
def built(request):
    """``(family, model, preprocess, state, model-space batch)`` for the family's tiny config."""
    family = models.FAMILIES[request.param]
    info = _info(family)
    model = family.build(family.tiny(), info)
    preprocess = make_preprocess(info, DataConfig(), model)
    batch = preprocess(_stored_batch(info=info), jax.random.PRNGKey(1))
    variables = jax.jit(model.init)(jax.random.PRNGKey(0), batch)
    make_tx = model.make_optimizer if isinstance(model, models.OwnOptimizer) else make_optimizer
    state = TrainState.create(params=variables["params"],
                              batch_stats=variables.get("batch_stats"),
                              tx=make_tx(OptimConfig(learning_rate=1e-2, ema_decay=0.9), 10),
                              rng=jax.random.PRNGKey(2), ema_decay=0.9)
    return family, model, preprocess, state, batch


def test_the_core_contract(built):
    family, model, _, _, _ = built
    assert isinstance(model, models.GenerativeModel)
    assert model.info == _info(family)
    # conditional only when asked, or where the family's generative model holds the class
    assert model.num_classes == (10 if family.name in ("m2", "m1m2") else 0)
    assert models.name_of(family.tiny()) == family.name
    # Something to show a user: samples, or (no prior) reconstructions or translations.
    assert isinstance(model, models.Sampling | models.Reconstruction | models.Translation)
    # a translation family says so in its record, and is refused data of one domain
    assert isinstance(model, models.Translation) == (family.translates is not None)
    if family.translates is not None:
        with pytest.raises(ValueError, match="--data.target"):
            family.build(family.tiny(), DIGITS8)
    if family.translates == "paired":
        with pytest.raises(ValueError, match="--data.paired"):
            family.build(family.tiny(), PAIRS["unpaired"])


def test_one_jitted_engine_step_moves_the_parameters(built):
    _, model, preprocess, state, _ = built
    step = jax.jit(make_train_step(model, preprocess))
    new, metrics = step(state, _stored_batch(info=model.info))
    assert int(new.step) == 1 and int(new.skipped) == 0
    assert float(metrics["nonfinite"]) == 0.0 and np.isfinite(float(metrics["loss"]))
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), new.params, state.params)
    assert any(jax.tree.leaves(moved))
    assert jax.tree.structure(new) == jax.tree.structure(state)


def _outputs(model, variables, batch, key):
    """Everything the family declares, computed in one jitted program (one compile)."""
    x = batch["x"]
    out = {"evaluate": model.evaluate(variables, batch, key),
           "anomaly_score": model.anomaly_score(variables, batch, key)}
    if isinstance(model, models.Sampling):
        out["sample"] = model.sample(variables, key, 5)
    if isinstance(model, models.TemperatureSampling):
        out["sample_at_temperature"] = model.sample_at_temperature(variables, key, 3, 0.5)
    if isinstance(model, models.ExactLikelihood):
        out["log_prob"] = model.log_prob(variables, x)
    if isinstance(model, models.LikelihoodBound):
        out["log_importance_weights"] = model.log_importance_weights(variables, x, key, 3)
    if isinstance(model, models.Reconstruction):
        out["reconstruct"] = model.reconstruct(variables, x)
    if isinstance(model, models.LatentCode):
        out["to_latent"] = z = model.to_latent(variables, x)
        out["from_latent"] = model.from_latent(variables, z)
    if isinstance(model, models.NoiseCode):
        out["to_noise"] = noise = model.to_noise(variables, x)
        out["from_noise"] = model.from_noise(variables, noise)
    if isinstance(model, models.Translation):
        out["translate"] = y = model.translate(variables, x)
    if isinstance(model, models.TranslationBack):
        out["translate_back"] = model.translate_back(variables, y)
    if isinstance(model, models.ScheduledLoss):  # past the schedule's end: the plain loss
        out["loss_at_end"] = model.loss_at(variables, batch, key, jnp.asarray(10**9),
                                           train=False)[0]
        out["loss"] = model.loss(variables, batch, key, train=False)[0]
    return out


def test_evaluate_the_anomaly_score_and_each_declared_capability(built):
    _, model, _, state, batch = built
    variables = state.variables(ema=True)
    if isinstance(model, models.SamplingVariables):
        variables = model.sampling_variables(variables)
        assert jax.tree.structure(variables) == jax.tree.structure(state.variables(ema=True))
    out = jax.jit(functools.partial(_outputs, model))(variables, batch, jax.random.PRNGKey(3))
    metrics = out["evaluate"]
    assert metrics and all(v.shape == (BATCH,) for v in metrics.values()), {
        k: v.shape for k, v in metrics.items()}
    score = out["anomaly_score"]
    assert score.shape == (BATCH,) and bool(jnp.all(jnp.isfinite(score)))
    if "sample" in out:
        assert out["sample"].shape == (5, 8, 8, 1)
        assert bool(jnp.all((out["sample"] >= 0) & (out["sample"] <= 1)))  # images in [0, 1]
    if "sample_at_temperature" in out:
        assert out["sample_at_temperature"].shape == (3, 8, 8, 1)
    if "log_prob" in out:
        assert out["log_prob"].shape == (BATCH,)
        # the anomaly score of an exact likelihood is its NLL (with the discrete offset)
        np.testing.assert_allclose(score, -out["log_prob"] + DIGITS8.dim * np.log(17),
                                   rtol=1e-5)
    if "log_importance_weights" in out:
        assert out["log_importance_weights"].shape == (3, BATCH)
        assert model.bound_in_bits(DataConfig()) in (True, False)
    if "reconstruct" in out:
        assert out["reconstruct"].shape == batch["x"].shape
    if "to_latent" in out:
        assert out["to_latent"].ndim == 2 and out["to_latent"].shape[0] == BATCH
        back = out["from_latent"]
        assert back.shape == batch["x"].shape
        if "reconstruct" in out:  # decoding the latent point is the reconstruction
            np.testing.assert_allclose(back, out["reconstruct"], rtol=1e-5, atol=1e-6)
        else:  # a flow (no reconstruction: it is exact): the latent point maps back to x
            np.testing.assert_allclose(back, batch["x"], atol=1e-4)
    if "to_noise" in out:
        assert out["to_noise"].shape == out["from_noise"].shape == batch["x"].shape
        assert bool(jnp.all(jnp.isfinite(out["to_noise"])))
        if isinstance(model, models.LatentCode):  # a flow: its base point, exactly
            np.testing.assert_allclose(out["to_noise"].reshape(BATCH, -1), out["to_latent"])
            np.testing.assert_allclose(out["from_noise"], batch["x"], atol=1e-4)
    if "translate" in out:  # images of the target domain, in [0, 1], and back
        y = out["translate"]
        assert y.shape == (BATCH, *model.info.target.shape)
        assert bool(jnp.all((y >= 0) & (y <= 1)))
    if "translate_back" in out:
        assert out["translate_back"].shape == batch["x"].shape
    if "loss_at_end" in out:
        np.testing.assert_allclose(out["loss_at_end"], out["loss"], rtol=1e-6)
    if isinstance(model, models.DataDependentInit):
        assert model.init_examples() >= 0
    if isinstance(model, models.DataRequirements):
        model.check_data(DataConfig())  # the defaults suit every family
        assert model.dequantizes() in (True, False)


@pytest.mark.parametrize("name", list(models.FAMILIES))
def test_a_float64_model_initializes_float64_variables(name):
    family = models.FAMILIES[name]
    info = _info(family)
    with jax.enable_x64(True):
        model = family.build(family.tiny(), info, dtype=jnp.float64)
        batch = {k: jnp.asarray(v, jnp.float64) / 16.0
                 for k, v in _stored_batch(info=info).items() if k in ("x", "y")}
        variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), batch)
        dtypes = {v.dtype for v in jax.tree.leaves(variables)
                  if jnp.issubdtype(v.dtype, jnp.floating)}
    assert dtypes == {jnp.dtype(jnp.float64)}


def test_capabilities_are_listed_by_name():
    names = {name: models.capabilities(models.FAMILIES[name].build(
        models.FAMILIES[name].tiny(), DIGITS8)) for name in ("ae", "vae", "gan", "glow")}
    assert names["ae"] == ("Reconstruction", "LatentCode")
    assert names["vae"] == ("Sampling", "LikelihoodBound", "Reconstruction", "LatentCode")
    assert names["gan"] == ("Sampling", "SamplingVariables", "OwnUpdate", "PrivateUpdate",
                            "OwnOptimizer")
    assert names["glow"] == ("Sampling", "TemperatureSampling", "ExactLikelihood", "LatentCode",
                             "NoiseCode", "DataDependentInit", "DataRequirements")


def test_a_registered_family_is_refused_twice():
    family = models.FAMILIES["vae"]
    with pytest.raises(ValueError, match="already registered"):
        models.register(family)
    with pytest.raises(ValueError, match="VAEConfig is already the config of family 'vae'"):
        models.register(models.Family("vae2", family.config, family.builder, "", family.tiny))
