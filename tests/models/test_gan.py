"""The GAN family: config checks, the two-player step (time scales, n_critic, non-finite
guard, EMA of the generator), packing, the DCGAN generator's sub-pixel form, and smoke steps."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax import optim
from gen_jax.config import OptimConfig
from gen_jax.data import DatasetInfo
from gen_jax.models import GANConfig, build, generator_loss, pack
from gen_jax.train import TrainState, make_train_step
from tests.conftest import run_python

RING = DatasetInfo("ring8", (2,), 8, None)
DIGITS = DatasetInfo("digits", (8, 8, 1), 10, 17)
TINY = GANConfig(latent_dim=2, g_hidden=(16, 16), d_hidden=(8,), d_maxout_pieces=3)
TINY_CONV = GANConfig(arch="dcgan", latent_dim=8, g_channels=(8, 8, 4), d_channels=(4, 8),
                      kernel_size=3)


def _preprocess(batch, key):
    del key
    return {k: (v.astype(jnp.float32) if k == "x" else v) for k, v in batch.items()}


def _batch(info, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *info.shape)).astype(np.float32)
    if info.num_levels is not None:
        x = rng.uniform(size=(n, *info.shape)).astype(np.float32)
    return {"x": jnp.asarray(x), "label": jnp.asarray(rng.integers(0, info.num_classes, n),
                                                       jnp.int32)}


LR3 = OptimConfig(learning_rate=1e-3)


def _state(model, info, optim=LR3, ema=None, steps=100):
    variables = model.init(jax.random.PRNGKey(0), _batch(info, 4))
    return TrainState.create(params=variables["params"], batch_stats=variables.get("batch_stats"),
                             tx=model.make_optimizer(optim, steps), rng=jax.random.PRNGKey(1),
                             ema_decay=ema)


def _record_noise_keys(model):
    """Replaces ``model.noise`` with the same draw that records each key the jitted step uses;
    returns the list the keys go to."""
    keys = []

    def noise(key, num):
        jax.debug.callback(lambda k: keys.append(np.asarray(k)), key, ordered=True)
        return jax.random.normal(key, (num, model.config.latent_dim), jnp.float32)

    model.noise = noise
    return keys


@pytest.mark.parametrize("cfg, info, message", [
    (GANConfig(arch="dcgan"), RING, "arch='dcgan' needs image data"),
    (GANConfig(loss="wasserstein"), RING, "needs a Lipschitz constraint"),
    (GANConfig(conditional=True), DatasetInfo("checkerboard", (2,), 0, None), "needs labels"),
    (GANConfig(conditional=True, pac=2), RING, "conditional=True with pac=1"),
    (GANConfig(arch="dcgan", g_channels=(8,) * 5), DIGITS, "divisible by 16"),
    (GANConfig(n_critic=0), RING, "n_critic must be >= 1"),
    (GANConfig(update="both"), RING, "unknown update 'both'"),
    (GANConfig(update="simultaneous", n_critic=2), RING, "set n_critic=1 or update="),
    (GANConfig(g_steps=0), RING, "g_steps must be >= 1"),
    (GANConfig(standing_stats=-1), RING, "standing_stats must be >= 0"),
    (GANConfig(standing_stats=4, batch_norm=False), RING, "set standing_stats=0"),
    (GANConfig(update="simultaneous", g_steps=2), RING, "set g_steps=1 or update="),
    (GANConfig(bn_momentum=1.0), RING, r"bn_momentum must be in \[0, 1\)"),
    (GANConfig(pack_batch_norm=True), RING, "use batch_norm=True with pac > 1"),
    (GANConfig(pack_batch_norm=True, pac=2, batch_norm=False), RING, "batch_norm=False and"),
    (GANConfig(pack_batch_norm=True, pac=300, standing_stats=1), RING,
     "fewer than one per pack position"),
])
def test_bad_configs_are_one_line_value_errors(cfg, info, message):
    with pytest.raises(ValueError, match=message) as err:
        build("gan", cfg, info)
    assert "\n" not in str(err.value)


def test_batch_that_does_not_split_is_a_value_error():
    model = build("gan", dataclasses.replace(TINY, pac=4, n_critic=2), RING)
    state = _state(model, RING)
    with pytest.raises(ValueError, match="multiple of 8 per device"):
        jax.jit(make_train_step(model, _preprocess))(state, _batch(RING, 12))


def test_two_time_scales_and_n_critic_updates():
    # Adam's first update moves each parameter by ~lr (|m / sqrt(v)| = 1): D by its own rate.
    cfg = dataclasses.replace(TINY, n_critic=2, d_learning_rate=1e-2, d_b1=0.0)
    model = build("gan", cfg, RING)
    state = _state(model, RING, OptimConfig(learning_rate=1e-3, b1=0.5))
    new, metrics = jax.jit(make_train_step(model, _preprocess))(state, _batch(RING, 12))
    assert float(metrics["nonfinite"]) == 0.0
    opt = new.opt_state
    assert int(opt["discriminator"][0].count) == 2 and int(opt["generator"][0].count) == 1
    dg = jax.tree.leaves(jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)),
                                      new.params["generator"], state.params["generator"]))
    np.testing.assert_allclose(max(map(float, dg)), 1e-3, rtol=1e-3)
    # With b1 = 0, Adam's t-th update is at most sqrt((1 - b2^t) / (1 - b2)) * lr: two D
    # updates move a parameter by at most (1 + sqrt(2)) * d_lr, the largest by at least about
    # d_lr (the first update alone is d_lr); at G's rate they could not come near d_lr.
    dd = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(
        jax.tree.leaves(new.params["discriminator"]),
        jax.tree.leaves(state.params["discriminator"]), strict=True))
    assert 1e-2 * 0.99 < dd <= (1 + 2**0.5) * 1e-2


def test_discriminator_updates_match_the_non_saturating_loss_written_out_on_fresh_fakes():
    # The reference spells out -log sigmoid(D(real pack)) - log(1 - sigmoid(D(fake pack))) with
    # the raw networks, so real and fake swapped, or the n_critic updates sharing one noise draw,
    # do not match it. The noise keys the jitted step draws with are recorded as it runs.
    cfg = dataclasses.replace(TINY, pac=2, n_critic=2)
    model = build("gan", cfg, RING)
    keys = _record_noise_keys(model)
    state = _state(model, RING)
    batch = _batch(RING, 8)
    new, _ = jax.jit(make_train_step(model, _preprocess))(state, batch)
    jax.effects_barrier()
    assert len(keys) == 3  # two discriminator updates, then one generator update
    assert len({k.tobytes() for k in keys}) == 3, "an update reused another's noise"

    g_vars = {"params": state.params["generator"], "batch_stats": state.batch_stats["generator"]}
    d_params, d_opt = state.params["discriminator"], state.opt_state["discriminator"]
    for i in range(2):  # update i: real rows i::2, fakes of the generator as the step began
        z = jax.random.normal(keys[i], (4, cfg.latent_dim), jnp.float32)
        fake = model.generator.apply(g_vars, z, None, train=True, mutable=["batch_stats"])[0]
        real = batch["x"][i::2]

        def loss(p, real=real, fake=fake):
            logit = lambda x: model.discriminator.apply({"params": p}, pack(x, 2), None)  # noqa: E731
            return (-jnp.mean(jax.nn.log_sigmoid(logit(real)))
                    - jnp.mean(jnp.log1p(-jax.nn.sigmoid(logit(fake)))))

        updates, d_opt = state.tx.discriminator.update(jax.grad(loss)(d_params), d_opt, d_params)
        d_params = optax.apply_updates(d_params, updates)
    jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-6),
                 new.params["discriminator"], d_params)
    moved = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(
        jax.tree.leaves(d_params), jax.tree.leaves(state.params["discriminator"]), strict=True))
    assert moved > 1e-4  # the updates are not too small to tell apart


def test_evaluate_marks_samples_within_three_stds_of_a_mode_as_high_quality():
    # ring8: modes on the circle of radius 2, std 0.01, so the threshold is 0.03 from a mode.
    model = build("gan", TINY, RING)
    variables = model.init(jax.random.PRNGKey(0), _batch(RING, 4))
    points = jnp.array([[2.0, 0.0], [2.029, 0.0], [2.031, 0.0], [0.0, -1.975],
                        [0.0, -1.965], [2 ** 0.5, 2 ** 0.5], [1.0, 1.0], [0.0, 0.0]])
    model.generate = lambda g_vars, z, label, train: (points[: z.shape[0]], None)
    out = model.evaluate(variables, {"x": points}, jax.random.PRNGKey(1))
    np.testing.assert_array_equal(out["high_quality"], [1, 1, 0, 1, 0, 1, 0, 0])


@pytest.mark.parametrize("decay_steps", [None, 60])
def test_each_players_schedule_keeps_pace_with_the_training_step(monkeypatch, decay_steps):
    # Each player's schedule counts its own updates (n_critic D and g_steps G per step): both
    # warm-ups and decays must end at the training step a one-update-per-step schedule would,
    # explicit warmup_steps/decay_steps included.
    from gen_jax import optim as _optim

    built, real = [], _optim.make_optimizer
    monkeypatch.setattr(_optim, "make_optimizer",
                        lambda cfg, total: built.append((cfg, total)) or real(cfg, total))
    optim = OptimConfig(learning_rate=1e-3, schedule="cosine", warmup_steps=10,
                        decay_steps=decay_steps, end_factor=0.1)
    build("gan", dataclasses.replace(TINY, n_critic=3, g_steps=2), RING).make_optimizer(optim, 100)
    (g_cfg, g_total), (d_cfg, d_total) = built
    g, d = _optim.make_schedule(g_cfg, g_total), _optim.make_schedule(d_cfg, d_total)
    per_step = _optim.make_schedule(optim, 100)
    for t in (0, 5, 10, 30, 59, 60, 80, 100):
        np.testing.assert_allclose(float(d(3 * t)), float(per_step(t)), rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(float(g(2 * t)), float(per_step(t)), rtol=1e-6, atol=1e-12)


def test_g_steps_make_that_many_generator_updates_against_the_updated_discriminator():
    # Reference: the discriminator's update of a one-G-update step (the same: D goes first),
    # then two generator updates by hand through the updated D, batch-norm stats carried over.
    # Each G update draws its own noise: the step's generator key split in two.
    cfg = dataclasses.replace(TINY, spectral_norm=True)
    model = build("gan", dataclasses.replace(cfg, g_steps=2), RING)
    one = build("gan", cfg, RING)
    state = _state(model, RING)
    batch = _batch(RING, 8)
    new, metrics = jax.jit(make_train_step(model, _preprocess))(state, batch)
    after_d, _ = jax.jit(make_train_step(one, _preprocess))(state, batch)
    d_vars = {"params": after_d.params["discriminator"],
              "batch_stats": after_d.batch_stats["discriminator"]}
    key_g = jax.random.split(state.step_key(), 3)[2]

    gp, g_opt, g_st, losses = (state.params["generator"], state.opt_state["generator"],
                               state.batch_stats["generator"], [])
    for key in jax.random.split(key_g, 2):
        z = model.noise(key, 8)

        def g_loss(p, g_st=g_st, z=z):
            out, new_st = model.generate({"params": p, "batch_stats": g_st}, z, None, train=True)
            return generator_loss("non_saturating", model.discriminate(d_vars, out, None)[0]), \
                new_st

        (loss, g_st), grads = jax.value_and_grad(g_loss, has_aux=True)(gp)
        updates, g_opt = state.tx.generator.update(grads, g_opt, gp)
        gp = optax.apply_updates(gp, updates)
        losses.append(loss)
    close = functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-7)
    jax.tree.map(close, new.params["generator"], gp)
    jax.tree.map(close, new.opt_state["generator"], g_opt)
    jax.tree.map(close, new.batch_stats["generator"], g_st)
    jax.tree.map(close, new.params["discriminator"], after_d.params["discriminator"])
    close(metrics["g_loss"], np.mean(losses))
    assert int(new.opt_state["generator"][0].count) == 2
    # One G update from the same start ends elsewhere: the second update happened.
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))),
                         new.params["generator"], after_d.params["generator"])
    assert max(jax.tree.leaves(moved)) > 1e-6


def test_simultaneous_update_takes_both_gradients_at_the_step_parameters():
    # Reference from the model's public pieces: D's regularized loss on the fakes, G's loss
    # through the step's (not the updated) discriminator, both applied by one two-player update.
    cfg = dataclasses.replace(TINY, update="simultaneous", spectral_norm=True, r1_weight=1.0)
    model = build("gan", cfg, RING)
    z = jax.random.normal(jax.random.PRNGKey(7), (8, 2))
    model.noise = lambda key, num: z[:num]  # the step's noise, known to the reference
    state = _state(model, RING)
    batch = _batch(RING, 8)
    new, metrics = jax.jit(make_train_step(model, _preprocess))(state, batch)

    params, stats = state.params, state.batch_stats
    g_st, d_st = stats["generator"], stats["discriminator"]
    fake, new_g_st = model.generate({"params": params["generator"], "batch_stats": g_st}, z,
                                    None, train=True)

    def d_loss(dp):
        return model.discriminator_objective({"params": dp, "batch_stats": d_st}, batch["x"],
                                             fake, None, jax.random.PRNGKey(0))

    (_, (d_metrics, new_d_st)), d_grads = jax.value_and_grad(d_loss, has_aux=True)(
        params["discriminator"])

    def g_loss(gp):
        out, _ = model.generate({"params": gp, "batch_stats": g_st}, z, None, train=True)
        logits, _ = model.discriminate(
            {"params": params["discriminator"], "batch_stats": new_d_st}, out, None)
        return generator_loss("non_saturating", logits)

    g_val, g_grads = jax.value_and_grad(g_loss)(params["generator"])
    grads = {"generator": g_grads, "discriminator": d_grads}
    updates, expected_opt = state.tx.update(grads, state.opt_state, params)
    expected = optax.apply_updates(params, updates)
    close = functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-7)
    # Adam's first moments are (1 - b1) * gradient: the gradients' values, not only signs.
    jax.tree.map(close, new.opt_state, expected_opt)
    jax.tree.map(close, new.params, expected)
    jax.tree.map(close, new.batch_stats, {"generator": new_g_st, "discriminator": new_d_st})
    for name in ("d_loss", "d_real", "d_fake", "r1"):
        close(metrics[name], d_metrics[name])
    close(metrics["g_loss"], g_val)

    # Alternating updates with the same noise differ: G's gradient there sees the updated D.
    alt = build("gan", dataclasses.replace(cfg, update="alternating"), RING)
    alt.noise = model.noise
    new_alt, _ = jax.jit(make_train_step(alt, _preprocess))(state, batch)
    jax.tree.map(close, new_alt.params["discriminator"], expected["discriminator"])
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))),
                         new_alt.params["generator"], expected["generator"])
    assert max(jax.tree.leaves(moved)) > 1e-6


@pytest.mark.parametrize("penalty", ["r1", "gp"])
def test_the_penalty_adds_its_weighted_gradient_to_the_discriminators(penalty):
    # The objective with the penalty minus the objective without it, differentiated in the
    # discriminator's parameters, is the gradient of weight x penalty computed here on its own:
    # R1 on the real packs only (at half its weight), the gradient penalty on the same packs.
    from gen_jax.models import gradient_penalty, r1_penalty

    rng = np.random.default_rng(0)
    x_real = jnp.asarray(rng.normal(size=(8, 2)), jnp.float32)
    x_fake = jnp.asarray(rng.normal(size=(8, 2)) + 1.0, jnp.float32)
    key = jax.random.PRNGKey(3)
    base = dataclasses.replace(TINY, pac=2)
    weight = {"r1": 100.0, "gp": 10.0}[penalty]  # R1 is small at init: a large weight
    plain = build("gan", base, RING)
    with_penalty = build("gan", dataclasses.replace(base, **{f"{penalty}_weight": weight}), RING)
    variables = plain.init(jax.random.PRNGKey(0), {"x": x_real})
    d_vars = {name: tree["discriminator"] for name, tree in variables.items()
              if "discriminator" in tree}

    def grad(model):
        objective = lambda p: model.discriminator_objective(  # noqa: E731
            {**d_vars, "params": p}, x_real, x_fake, None, key)[0]
        return jax.grad(objective)(d_vars["params"])

    def weighted_penalty(p):
        critic = lambda x: plain.discriminator.apply({**d_vars, "params": p}, x, None)  # noqa: E731
        if penalty == "r1":
            return 0.5 * weight * r1_penalty(critic, pack(x_real, 2))
        return weight * gradient_penalty(critic, pack(x_real, 2), pack(x_fake, 2), key)

    added = jax.tree.map(jnp.subtract, grad(with_penalty), grad(plain))
    expected = jax.grad(weighted_penalty)(d_vars["params"])
    assert max(float(jnp.abs(e).max()) for e in jax.tree.leaves(expected)) > 1e-3  # not zero
    jax.tree.map(lambda a, e: np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-6),
                 added, expected)


def test_nonfinite_step_is_skipped_whole_and_counted():
    model = build("gan", dataclasses.replace(TINY, n_critic=2), RING)
    state = _state(model, RING, ema=0.9)
    step = jax.jit(make_train_step(model, _preprocess))
    before = jax.tree.map(np.asarray, (state.params, state.opt_state, state.ema_params,
                                       state.batch_stats))
    bad = _batch(RING, 8)
    bad["x"] = bad["x"].at[5, 1].set(jnp.nan)  # poisons the second D update only
    state, metrics = step(state, bad)
    assert float(metrics["nonfinite"]) == 1.0 and float(metrics["loss"]) == 0.0
    after = jax.tree.map(np.asarray, (state.params, state.opt_state, state.ema_params,
                                      state.batch_stats))
    jax.tree.map(np.testing.assert_array_equal, before, after)
    assert int(state.skipped) == 1 and int(state.consecutive_skipped) == 1
    assert int(state.step) == 1
    state, metrics = step(state, _batch(RING, 8))
    assert float(metrics["nonfinite"]) == 0.0 and int(state.consecutive_skipped) == 0
    assert int(state.longest_skip_run) == 1


def test_ema_averages_the_generator_and_sampling_uses_it():
    model = build("gan", TINY, RING)
    state = _state(model, RING, ema=0.5)
    step = jax.jit(make_train_step(model, _preprocess))
    ema_g = jax.tree.map(np.asarray, state.params["generator"])
    for t in range(4):
        state, _ = step(state, _batch(RING, 8, seed=t))
        d = min(0.5, (1 + t) / (10 + t))
        ema_g = jax.tree.map(lambda e, p, d=d: d * e + (1 - d) * np.asarray(p), ema_g,
                             state.params["generator"])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
                 state.ema_params["generator"], ema_g)
    jax.tree.map(np.testing.assert_array_equal, state.ema_params["discriminator"],
                 state.params["discriminator"])  # the discriminator is not averaged
    key = jax.random.PRNGKey(3)
    from_ema = model.sample(state.variables(ema=True), key, 16)
    live = model.sample(state.variables(), key, 16)
    assert float(jnp.max(jnp.abs(from_ema - live))) > 1e-4
    expected = model.generator.apply(
        {"params": ema_g, "batch_stats": state.batch_stats["generator"]},
        jax.random.normal(key, (16, 2)), train=False)
    np.testing.assert_allclose(from_ema, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("num_classes", [0, 50])
def test_standing_stats_pool_the_statistics_of_every_batch(num_classes):
    # One batch-norm layer: statistics pooled over 3 batches of 20 are those of the 60 noise
    # vectors at once, so inference with them equals a train-mode pass over all 60. With 50
    # classes (more than a batch) the labels run on from batch to batch: 0..59 mod 50.
    info = DatasetInfo("ring8", (2,), num_classes, None)
    cfg = dataclasses.replace(TINY, g_hidden=(16,), conditional=bool(num_classes))
    model = build("gan", cfg, info)
    variables = model.init(jax.random.PRNGKey(0), _batch(RING, 4) if not num_classes else
                           {"x": _batch(RING, 4)["x"], "label": jnp.arange(4)})
    key = jax.random.PRNGKey(5)
    standing = model.with_standing_stats(variables, key, 3, batch_size=20)
    z = jnp.concatenate([model.noise(k, 20) for k in jax.random.split(key, 3)])
    label = jnp.arange(60) % num_classes if num_classes else None
    g = functools.partial(model.generate, z=z, label=label)
    inferred, _ = g({"params": variables["params"]["generator"],
                     "batch_stats": standing["batch_stats"]["generator"]}, train=False)
    trained, _ = g({"params": variables["params"]["generator"],
                    "batch_stats": variables["batch_stats"]["generator"]}, train=True)
    np.testing.assert_allclose(inferred, trained, rtol=1e-4, atol=1e-5)
    assert standing["params"] is variables["params"]
    assert set(standing["batch_stats"]) == set(variables["batch_stats"])


@pytest.mark.parametrize("cfg, info", [
    (TINY, RING), (dataclasses.replace(TINY_CONV, conditional=True), DIGITS)])
def test_standing_stats_of_one_batch_reproduce_its_train_mode_pass(cfg, info):
    # Every layer (conditional batch norm too, labels cycling through the classes): inference
    # with one batch's standing statistics is the train-mode pass over that batch.
    model = build("gan", cfg, info)
    variables = model.init(jax.random.PRNGKey(0), _batch(info, 4))
    key = jax.random.PRNGKey(5)
    standing = model.with_standing_stats(variables, key, 1, batch_size=30)
    z = model.noise(jax.random.split(key, 1)[0], 30)
    label = jnp.arange(30) % info.num_classes if cfg.conditional else None
    params = variables["params"]["generator"]
    inferred, _ = model.generate({"params": params,
                                  "batch_stats": standing["batch_stats"]["generator"]},
                                 z, label, train=False)
    trained, _ = model.generate({"params": params,
                                 "batch_stats": variables["batch_stats"]["generator"]},
                                z, label, train=True)
    np.testing.assert_allclose(inferred, trained, rtol=1e-4, atol=1e-5)


def test_sampling_variables_hold_the_standing_stats_of_a_fixed_key():
    model = build("gan", dataclasses.replace(TINY, standing_stats=2), RING)
    plain = build("gan", TINY, RING)
    variables = model.init(jax.random.PRNGKey(0), _batch(RING, 4))
    standing = model.with_standing_stats(variables, jax.random.PRNGKey(0), 2)
    jax.tree.map(np.testing.assert_array_equal, model.sampling_variables(variables), standing)
    assert plain.sampling_variables(variables) is variables
    # sample() and evaluate() use the statistics they are given (the toolkit's sampling and
    # evaluation prepare them once); the running statistics at initialization (0 and 1) are
    # not the generator's own, so the standing ones change the fakes.
    batch, key = _batch(RING, 8), jax.random.PRNGKey(3)
    given = model.evaluate(variables, batch, key)["d_fake"]
    np.testing.assert_array_equal(given, plain.evaluate(variables, batch, key)["d_fake"])
    assert float(jnp.max(jnp.abs(given - model.evaluate(standing, batch, key)["d_fake"]))) > 1e-4


def test_pack_batch_norm_normalizes_each_pack_position_as_its_own_generator_call():
    # PacGAN's code runs the generator once per pack position: position j of the packs
    # (examples j, j + pac, ...) is normalized by its own batch statistics in training.
    pac = 4
    packed = build("gan", dataclasses.replace(TINY, pac=pac, pack_batch_norm=True), RING)
    plain = build("gan", dataclasses.replace(TINY, pac=pac), RING)
    variables = packed.init(jax.random.PRNGKey(0), _batch(RING, 8))
    g_vars = {"params": variables["params"]["generator"],
              "batch_stats": variables["batch_stats"]["generator"]}
    z = packed.noise(jax.random.PRNGKey(3), 5 * pac)
    out, _ = packed.generate(g_vars, z, None, train=True)
    for j in range(pac):
        alone, _ = plain.generate(g_vars, z[j::pac], None, train=True)
        np.testing.assert_allclose(out[j::pac], alone, rtol=1e-4, atol=1e-5)
    whole, _ = plain.generate(g_vars, z, None, train=True)
    assert float(jnp.max(jnp.abs(out - whole))) > 1e-3  # the grouping matters
    # Inference and sampling do not depend on it (with the running statistics it recorded).
    _, stats = packed.generate(g_vars, z, None, train=True)
    trained = {**variables, "batch_stats": {**variables["batch_stats"], "generator": stats}}
    np.testing.assert_array_equal(packed.sample(trained, jax.random.PRNGKey(4), 6),
                                  plain.sample(trained, jax.random.PRNGKey(4), 6))
    # Standing statistics use batches of a multiple of pac (256 -> 255 for pac 3).
    three = build("gan", dataclasses.replace(TINY, pac=3, pack_batch_norm=True,
                                             standing_stats=1), RING)
    jax.tree.map(np.testing.assert_array_equal, three.sampling_variables(variables),
                 three.with_standing_stats(variables, jax.random.PRNGKey(0), 1, 255))
    with pytest.raises(ValueError, match="a batch of 256 cannot be split into 3 groups"):
        three.with_standing_stats(variables, jax.random.PRNGKey(0), 1, 256)


@pytest.mark.parametrize("cfg, info, norms", [
    (TINY, RING, 2),
    (dataclasses.replace(TINY, pac=2, pack_batch_norm=True), RING, 2),
    (TINY_CONV, DIGITS, 3),
    (dataclasses.replace(TINY_CONV, pac=2, pack_batch_norm=True), DIGITS, 3),
])
def test_generator_batch_norms_keep_their_names(cfg, info, norms):
    # Checkpoints written before and after pack_batch_norm restore into either: the layers are
    # named as flax names nn.BatchNorm layers, in call order.
    g = build("gan", cfg, info).init(jax.random.PRNGKey(0), _batch(info, 4))
    names = [f"BatchNorm_{i}" for i in range(norms)]
    assert sorted(g["batch_stats"]["generator"]) == names
    assert [k for k in sorted(g["params"]["generator"]) if "Norm" in k] == names


def test_bn_momentum_sets_the_decay_of_the_generators_running_statistics():
    model = build("gan", dataclasses.replace(TINY, bn_momentum=0.25), RING)
    variables = model.init(jax.random.PRNGKey(0), _batch(RING, 4))
    params = variables["params"]["generator"]
    z = model.noise(jax.random.PRNGKey(3), 10)
    _, stats = model.generate({"params": params,
                               "batch_stats": variables["batch_stats"]["generator"]},
                              z, None, train=True)
    h = z @ params["Dense_0"]["kernel"]  # the first batch norm's input (no bias before it)
    np.testing.assert_allclose(stats["BatchNorm_0"]["mean"], 0.75 * h.mean(0), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(stats["BatchNorm_0"]["var"], 0.25 + 0.75 * h.var(0), rtol=1e-5)


def test_pack_groups_consecutive_examples():
    x = jnp.arange(24.0).reshape(6, 2, 2, 1)
    packed = pack(x, 3)
    assert packed.shape == (2, 2, 2, 3)
    np.testing.assert_array_equal(packed[1, :, :, 2], x[5, :, :, 0])
    np.testing.assert_array_equal(pack(jnp.arange(12.0).reshape(6, 2), 2)[2], [8, 9, 10, 11])


def test_dcgan_generator_subpixel_equals_transposed_convolutions():
    sub = build("gan", TINY_CONV, DIGITS)
    tra = build("gan", dataclasses.replace(TINY_CONV, upsample="transpose"), DIGITS)
    variables = sub.init(jax.random.PRNGKey(0), _batch(DIGITS, 4))
    v2 = tra.init(jax.random.PRNGKey(0), _batch(DIGITS, 4))
    assert jax.tree.map(jnp.shape, variables) == jax.tree.map(jnp.shape, v2)  # same params
    a = sub.sample(variables, jax.random.PRNGKey(1), 6)
    b = tra.sample(variables, jax.random.PRNGKey(1), 6)
    assert a.shape == (6, 8, 8, 1) and 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cfg, info", [
    (dataclasses.replace(TINY, loss="wasserstein", gp_weight=10.0, r1_weight=1.0,
                         spectral_norm=True, n_critic=2, g_steps=2, pac=2,
                         pack_batch_norm=True, bn_momentum=0.95), RING),
    (dataclasses.replace(TINY_CONV, g_channels=(8, 4), d_channels=(4,), loss="hinge",
                         conditional=True, spectral_norm=True), DIGITS),
    (dataclasses.replace(TINY_CONV, g_channels=(8, 4), d_channels=(4,), loss="wasserstein",
                         gp_weight=10.0, conditional=True, update="simultaneous"), DIGITS),
])
def test_smoke_steps_update_both_players(cfg, info):
    model = build("gan", cfg, info)
    state = _state(model, info)
    step = jax.jit(make_train_step(model, _preprocess))
    first, first_stats = state.params, state.batch_stats
    for t in range(3):
        state, metrics = step(state, _batch(info, 8, seed=t))
        assert float(metrics["nonfinite"]) == 0.0
        assert all(np.isfinite(float(v)) for v in metrics.values())
    # Every generator leaf and every discriminator kernel trained (a hinge loss gives the
    # output bias a zero gradient while all margins are active, so biases may stay put).
    for path, a in jax.tree.leaves_with_path(state.params):
        b = first
        for k in path:
            b = b[k.key]
        keyname = jax.tree_util.keystr(path)
        if "generator" in keyname or "kernel" in keyname:
            assert float(jnp.max(jnp.abs(a - b))) > 0.0, keyname
    if cfg.spectral_norm:  # every power-iteration vector of D advanced
        moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))),
                             state.batch_stats["discriminator"], first_stats["discriminator"])
        assert moved and min(jax.tree.leaves(moved)) > 0.0, moved
    per_example = model.evaluate(state.variables(), _batch(info, 8), jax.random.PRNGKey(0))
    assert per_example and all(v.shape == (8,) for v in per_example.values())


def test_a_float64_gan_keeps_float64_so_its_gradients_check_to_1e_7():
    # A float64 model (x64 on) must not round the generator's samples or the critic's logits to
    # float32: the loss (with the gradient penalty's double backward) checks against central
    # differences only at float64 precision. LeakyReLU, not maxout: a maxout unit here has two
    # pieces within 7e-7 of each other on one fake, a kink that a 1e-6 difference steps over.
    from jax.test_util import check_grads

    with jax.enable_x64(True):
        cfg = dataclasses.replace(TINY, gp_weight=1.0, d_maxout_pieces=1)
        model = build("gan", cfg, RING, dtype=jnp.float64)
        batch = {"x": _batch(RING, 8)["x"].astype(jnp.float64)}
        variables = jax.tree.map(lambda a: a.astype(jnp.float64),
                                 jax.jit(model.init)(jax.random.key(0), batch))
        key = jax.random.key(1)
        assert jax.jit(model.sample, static_argnums=2)(variables, key, 4).dtype == jnp.float64
        loss, (metrics, _) = jax.jit(model.loss)(variables, batch, key)
        assert loss.dtype == metrics["g_loss"].dtype == jnp.float64

        @jax.jit
        def value(params):
            return model.loss({**variables, "params": params}, batch, key)[0]

        check_grads(value, (variables["params"],), order=1, modes=["rev"], eps=1e-6,
                    atol=1e-7, rtol=1e-7)


def check_mapped_step(update: str, mapper: str, n: int = 2, g_steps: int = 1) -> None:
    """One mapped step over ``n`` shards with different data: replicas must stay identical."""
    model = build("gan", dataclasses.replace(TINY, r1_weight=1.0, update=update,
                                             g_steps=g_steps), RING)
    state = _state(model, RING, ema=0.9)
    replicated = jax.tree.map(lambda a: jnp.broadcast_to(a, (n, *jnp.shape(a))), state)
    batch = jax.tree.map(lambda a: a.reshape(n, -1, *a.shape[1:]), _batch(RING, 8 * n))
    mapped = jax.pmap if mapper == "pmap" else lambda f, axis_name: jax.jit(
        jax.vmap(f, axis_name=axis_name))
    # Every training pass of the generator normalizes over the mapped axis (cross-replica
    # batch norm; check_mapped_batch_norm shows what that computes).
    axes, generate = [], model.generate

    def spy(*args, train, axis_name=None, **kwargs):
        if train:
            axes.append(axis_name)
        return generate(*args, train=train, axis_name=axis_name, **kwargs)

    model.generate = spy
    step = mapped(make_train_step(model, _preprocess, axis_name="batch"), axis_name="batch")
    new, metrics = step(replicated, batch)
    expected = 1 if update == "simultaneous" else 1 + g_steps  # D's fakes, then each G update
    assert axes == ["batch"] * expected, axes
    assert float(metrics["nonfinite"][0]) == 0.0 and int(new.step[0]) == 1
    for leaf in jax.tree.leaves(new.params):  # replicas stay identical
        np.testing.assert_array_equal(leaf[0], leaf[-1])
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a[0] - b))), new.params, state.params)
    assert min(jax.tree.leaves(moved)) > 0.0


BN_CASES = (  # (config, data): batch norm, its per-pack-position variant, conditional
    (dataclasses.replace(TINY, pac=2), RING),
    (dataclasses.replace(TINY, pac=2, pack_batch_norm=True), RING),
    (dataclasses.replace(TINY, conditional=True), RING),
)


def check_mapped_batch_norm(cfg, info, mapper: str, n: int = 2) -> None:
    """The generator in training over ``n`` mapped shards of a batch normalizes them as one
    global batch: outputs and running statistics equal the unmapped pass over the batch."""
    model = build("gan", cfg, info)
    variables = model.init(jax.random.PRNGKey(0), _batch(info, 4))
    g_vars = {"params": variables["params"]["generator"],
              "batch_stats": variables["batch_stats"]["generator"]}
    z = model.noise(jax.random.PRNGKey(3), 8 * n) * jnp.arange(1.0, 8 * n + 1)[:, None]
    label = jnp.arange(8 * n) % info.num_classes if cfg.conditional else None
    whole, stats = model.generate(g_vars, z, label, train=True)

    def shard(z, label):
        return model.generate(g_vars, z, label, train=True, axis_name="batch")

    mapped = jax.pmap(shard, axis_name="batch") if mapper == "pmap" else jax.jit(
        jax.vmap(shard, axis_name="batch"))
    out, out_stats = mapped(z.reshape(n, 8, -1),
                            None if label is None else label.reshape(n, 8))
    np.testing.assert_allclose(out.reshape(whole.shape), whole, rtol=1e-4, atol=1e-5)
    for i in range(n):
        jax.tree.map(lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-4,
                                                                  atol=1e-6),
                     out_stats, stats)


@pytest.mark.parametrize("cfg, info", BN_CASES)
def test_mapped_generator_batch_norm_normalizes_the_global_batch(cfg, info):
    check_mapped_batch_norm(cfg, info, "vmap")


@pytest.mark.parametrize("update, g_steps", [("alternating", 1), ("alternating", 2),
                                             ("simultaneous", 1)])
def test_vmapped_step_averages_over_the_axis(update, g_steps):
    # The compatibility strategy's layout (a leading device axis, gradients pmean-ed over it),
    # with vmap running the same collectives over two shards of different data in-process.
    check_mapped_step(update, "vmap", g_steps=g_steps)


@pytest.mark.slow
def test_pmapped_step_on_two_devices_averages_over_them_and_normalizes_globally():
    # The real pmap strategy on two forced host devices, in a fresh process. Slow (20 s): the
    # same collectives run in-process under vmap above, and the pmap strategy end to end in
    # tests/train/test_parallel.py.
    code = ("import jax; assert jax.local_device_count() == 2, jax.devices()\n"
            "from tests.models.test_gan import check_mapped_step\n"
            "for update in ('alternating', 'simultaneous'):\n"
            "    check_mapped_step(update, 'pmap')\n"
            "from tests.models.test_gan import BN_CASES, check_mapped_batch_norm\n"
            "for cfg, info in BN_CASES:\n"
            "    check_mapped_batch_norm(cfg, info, 'pmap')\n")
    run_python(code, devices=2)


def test_the_anomaly_score_is_the_negated_logit_of_a_pack_of_copies():
    model = build("gan", dataclasses.replace(TINY, pac=3), RING)
    variables = model.init(jax.random.PRNGKey(0), _batch(RING, 6))
    batch = _batch(RING, 4, seed=1)
    score = model.anomaly_score(variables, batch, jax.random.PRNGKey(2))
    d_vars = {"params": variables["params"]["discriminator"]}
    for i in range(4):  # by hand: the discriminator on [x_i, x_i, x_i] packed
        copies = jnp.repeat(batch["x"][i:i + 1], 3, axis=0)
        logit = model.discriminator.apply(d_vars, pack(copies, 3), None)
        np.testing.assert_allclose(score[i], -logit[0], rtol=1e-6)


def test_private_discriminator_is_dp_sgd_over_real_fake_pairs():
    # DP-GAN by hand: each drawn real example and the fake beside it are one unit, whose
    # non-saturating loss gradient is clipped, summed over the drawn units, noised and divided
    # by the expected batch; padding rows (weight 0) count for nothing.
    model = build("gan", TINY, RING)
    keys = _record_noise_keys(model)
    state = _state(model, RING)
    batch = {**_batch(RING, 6), "weight": jnp.array([1, 0, 1, 1, 1, 0], jnp.float32)}
    settings = optim.DPSettings(clip_norm=0.03, noise_multiplier=0.8, expected_batch=4.0)
    new, metrics = jax.jit(make_train_step(model, _preprocess, privacy=settings))(state, batch)
    jax.effects_barrier()
    g_vars = {"params": state.params["generator"], "batch_stats": state.batch_stats["generator"]}
    fake = model.generator.apply(g_vars, jax.random.normal(keys[0], (6, 2)), None, train=True,
                                 mutable=["batch_stats"])[0]
    d_params = state.params["discriminator"]

    def pair_loss(p, real, fake):
        logit = lambda x: model.discriminator.apply({"params": p}, x[None], None)[0]  # noqa: E731
        return -jax.nn.log_sigmoid(logit(real)) - jnp.log1p(-jax.nn.sigmoid(logit(fake)))

    stacked = jax.jit(jax.vmap(jax.grad(pair_loss), in_axes=(None, 0, 0)))(d_params, batch["x"],
                                                                           fake)
    key_d = jax.random.split(jax.random.fold_in(state.rng, 0), 3)[1]
    key_noise = jax.random.split(jax.random.fold_in(jax.random.split(key_d, 1)[0], 1))[1]
    grads, norms = optim.private_gradient(stacked, batch["weight"], settings, key_noise)
    clipped = np.asarray(norms)[[0, 2, 3, 4]] > 0.03
    assert 0 < clipped.sum() < 4  # pairs clipped and pairs left alone
    updates, _ = state.tx.discriminator.update(grads, state.opt_state["discriminator"],
                                               d_params)
    jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-6),
                 new.params["discriminator"], optax.apply_updates(d_params, updates))
    drawn = [0, 2, 3, 4]
    losses = np.asarray(jax.vmap(pair_loss, in_axes=(None, 0, 0))(d_params, batch["x"], fake))
    assert float(metrics["d_loss"]) == pytest.approx(float(np.mean(losses[drawn])), rel=1e-5)
    assert float(metrics["privacy/batch"]) == 4.0
    assert float(metrics["privacy/clipped"]) == clipped.mean()


def test_a_private_step_reads_only_the_drawn_examples():
    # DP's unit is one drawn example: rows Poisson sampling left out (weight 0) must change
    # nothing, for either player, even in a conditional GAN whose generator normalizes its
    # batch (the fakes' labels are not the batch's); a drawn row does change the step.
    cfg = dataclasses.replace(TINY, conditional=True)
    model = build("gan", cfg, RING)
    state = _state(model, RING)
    batch = {**_batch(RING, 6), "weight": jnp.array([1, 1, 1, 1, 0, 0], jnp.float32)}
    step = jax.jit(make_train_step(model, _preprocess,
                                   privacy=optim.DPSettings(0.1, 1.0, 4.0)))

    def changed(rows):
        return {**batch, "x": batch["x"].at[rows].set(5.0),
                "label": batch["label"].at[rows].set((batch["label"][rows] + 3) % 8)}

    base, _ = step(state, batch)
    padded, _ = step(state, changed(jnp.array([4, 5])))
    jax.tree.map(np.testing.assert_array_equal, (base.params, base.opt_state, base.batch_stats),
                 (padded.params, padded.opt_state, padded.batch_stats))
    drawn, _ = step(state, changed(jnp.array([0])))  # Adam's moments hold the gradient
    assert any(not np.allclose(a, b) for a, b in zip(
        jax.tree.leaves(drawn.opt_state["discriminator"]),
        jax.tree.leaves(base.opt_state["discriminator"]), strict=True))


@pytest.mark.parametrize("cfg, message", [
    (dataclasses.replace(TINY, n_critic=2), "set --model.n-critic 1"),
    (dataclasses.replace(TINY, pac=2), "set --model.pac 1 for differential privacy"),
    (dataclasses.replace(TINY, update="simultaneous"), "set --model.update alternating"),
])
def test_settings_the_private_discriminator_does_not_cover_are_one_line(cfg, message):
    model = build("gan", cfg, RING)
    with pytest.raises(ValueError, match=message):
        model.make_private_update(_preprocess, optim.DPSettings(1.0, 1.0, 4.0))
