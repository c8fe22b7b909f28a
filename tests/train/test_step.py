import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax.train import TrainState, make_train_step

from .conftest import identity_preprocess


def _state(model, ema_decay=None, lr=1e-2, tx=None):
    batch = {"x": jnp.ones((8, 4))}
    variables = model.init(jax.random.PRNGKey(0), batch)
    return TrainState.create(params=variables["params"], tx=tx or optax.sgd(lr),
                             rng=jax.random.PRNGKey(1), ema_decay=ema_decay)


def _batch(seed, poison=False):
    x = np.random.default_rng(seed).normal(size=(8, 4)).astype(np.float32)
    if poison:
        x[3, 1] = np.nan
    return {"x": jnp.asarray(x)}


def test_step_matches_manual_sgd_update(tiny_model):
    state = _state(tiny_model)
    step = jax.jit(make_train_step(tiny_model, identity_preprocess))
    batch = _batch(0)
    new, metrics = step(state, batch)
    # The same update by hand: same key derivation, plain SGD.
    _, key_loss = jax.random.split(jax.random.fold_in(state.rng, 0))
    grads = jax.grad(lambda p: tiny_model.loss({"params": p}, batch, key_loss, train=True)[0])(
        state.params)
    expected = jax.tree.map(lambda p, g: p - 1e-2 * g, state.params, grads)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
                 new.params, expected)
    assert int(new.step) == 1 and float(metrics["nonfinite"]) == 0.0
    np.testing.assert_allclose(metrics["grad_norm"], optax.tree.norm(grads), rtol=1e-6)


def test_nonfinite_guard_skips_poisoned_batch_and_counts(tiny_model):
    state = _state(tiny_model, ema_decay=0.9, tx=optax.adam(1e-2))  # a state to keep: count,
    step = jax.jit(make_train_step(tiny_model, identity_preprocess))  # moments
    before = jax.tree.map(np.asarray, (state.params, state.opt_state, state.ema_params))
    assert len(jax.tree.leaves(before[1])) > 1
    state, metrics = step(state, _batch(0, poison=True))
    assert float(metrics["nonfinite"]) == 1.0
    assert float(metrics["loss"]) == 0.0 and float(metrics["grad_norm"]) == 0.0  # masked
    after = jax.tree.map(np.asarray, (state.params, state.opt_state, state.ema_params))
    jax.tree.map(np.testing.assert_array_equal, before, after)
    assert int(state.skipped) == 1 and int(state.consecutive_skipped) == 1
    assert int(state.step) == 1
    state, _ = step(state, _batch(1, poison=True))
    assert int(state.consecutive_skipped) == 2
    state, metrics = step(state, _batch(2))
    assert float(metrics["nonfinite"]) == 0.0
    assert int(state.consecutive_skipped) == 0 and int(state.skipped) == 2
    assert int(state.opt_state[0].count) == 1  # only the finite step moved the optimizer
    # The longest run is remembered after it ends, so a sparse host check still sees it.
    assert int(state.longest_skip_run) == 2
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state.params))


def test_ema_follows_its_definition(tiny_model):
    # Decay at update t is min(ema_decay, (1 + t) / (10 + t)): 0.1, 2/11, ..., then 0.75.
    state = _state(tiny_model, ema_decay=0.75)
    step = jax.jit(make_train_step(tiny_model, identity_preprocess))
    ema = jax.tree.map(np.asarray, state.params)
    for t in range(12):
        state, _ = step(state, _batch(t))
        d = min(0.75, (1 + t) / (10 + t))
        ema = jax.tree.map(lambda e, p, d=d: d * e + (1 - d) * np.asarray(p), ema, state.params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
                 state.ema_params, ema)


def test_ema_keeps_each_leafs_dtype_and_copies_non_float_leaves():
    # A bfloat16 leaf stays bfloat16 and a counter takes the new value: both branches of the
    # guarded update then have the same types, so the step compiles.
    from gen_jax.train import guarded_update

    params = {"w": jnp.ones((3,), jnp.float32), "h": jnp.ones((3,), jnp.bfloat16),
              "n": jnp.array(5, jnp.int32)}
    state = TrainState.create(params=params, tx=optax.sgd(0.5), rng=jax.random.PRNGKey(0),
                              ema_decay=0.9)
    moved = {**params, "n": jnp.array(7, jnp.int32)}
    ema = state.averaged(state.ema_params, jax.tree.map(lambda p: p * 3, moved))
    assert {k: v.dtype for k, v in ema.items()} == {k: v.dtype for k, v in params.items()}
    d = 0.1  # step 0: min(0.9, 1 / 10)
    np.testing.assert_allclose(ema["w"], d * 1 + (1 - d) * 3, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ema["h"], np.float32), d * 1 + (1 - d) * 3, rtol=1e-2)
    assert int(ema["n"]) == 21
    grads = {"w": jnp.ones(3), "h": jnp.ones(3, jnp.bfloat16), "n": jnp.array(0, jnp.int32)}
    new, _ = jax.jit(guarded_update)(state, grads, jnp.float32(1.0), {})
    assert {k: v.dtype for k, v in new.ema_params.items()} == {
        k: v.dtype for k, v in params.items()}
    np.testing.assert_allclose(new.ema_params["w"], d * 1 + (1 - d) * 0.5, rtol=1e-6)


def test_jitted_step_is_not_retraced(tiny_model):
    traces = []
    inner = make_train_step(tiny_model, identity_preprocess)

    def counted(state, batch):
        traces.append(1)
        return inner(state, batch)

    step = jax.jit(counted, donate_argnums=0)
    state = _state(tiny_model)
    for i in range(4):
        state, _ = step(state, _batch(i))
    assert len(traces) == 1


def test_step_key_changes_every_step(tiny_model):
    state = _state(tiny_model)
    k0 = state.step_key()
    k1 = state.replace(step=state.step + 1).step_key()
    assert not np.array_equal(k0, k1)
    assert np.array_equal(k0, jax.random.fold_in(jax.random.PRNGKey(1), 0))


@pytest.mark.parametrize("decay", [None, 0.5])
def test_variables_pick_ema_only_when_present(tiny_model, decay):
    state = _state(tiny_model, ema_decay=decay)
    chosen = state.variables(ema=True)["params"]
    assert chosen is (state.ema_params if decay else state.params)


class _NoisyLinear:
    """loss = sum(w * (z + x')): its gradient is the loss noise z plus the data noise in x'."""

    def init(self, key, batch):
        return {"params": {"w": jnp.zeros((4000,))}}

    def loss(self, variables, batch, key, *, train):
        z = jax.random.normal(key, (4000,))
        return jnp.sum(variables["params"]["w"] * (z + batch["x"][0])), ({}, {})


def test_each_device_of_a_mapped_step_draws_its_own_noise():
    # Two "devices" (vmap with an axis name, as under pmap) with the same batch average their
    # gradients: independent draws give a per-coordinate variance of (1 + 1) / 2 = 1, the same
    # loss or data noise on both 1.5 or 2.
    def noisy_preprocess(batch, key):
        return {"x": batch["x"] + jax.random.normal(key, batch["x"].shape)}

    model = _NoisyLinear()
    state = TrainState.create(params=model.init(None, None)["params"], tx=optax.sgd(1.0),
                              rng=jax.random.PRNGKey(1))
    step = make_train_step(model, noisy_preprocess, axis_name="devices")
    states = jax.tree.map(lambda a: jnp.stack([a, a]), state)
    batch = {"x": jnp.zeros((2, 1, 4000))}  # the same (zero) batch on both
    new, _ = jax.vmap(step, axis_name="devices")(states, batch)
    grad = -np.asarray(new.params["w"][0])  # sgd(1.0): the update is minus the mean gradient
    np.testing.assert_array_equal(grad, -np.asarray(new.params["w"][1]))  # kept in sync
    assert 0.85 < grad.var() < 1.15, grad.var()
