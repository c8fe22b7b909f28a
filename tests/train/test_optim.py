import dataclasses

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax.config import OptimConfig
from gen_jax.train import make_optimizer, make_schedule


def test_warmup_cosine_schedule_values():
    cfg = OptimConfig(learning_rate=1.0, schedule="warmup_cosine", warmup_steps=10,
                      end_factor=0.1)
    lr = make_schedule(cfg, total_steps=110)
    assert float(lr(0)) == pytest.approx(0.0)
    assert float(lr(5)) == pytest.approx(0.5)
    assert float(lr(10)) == pytest.approx(1.0)
    # Half-way through the cosine part: 0.1 + 0.9 * (1 + cos(pi/2)) / 2.
    assert float(lr(60)) == pytest.approx(0.1 + 0.9 * 0.5, rel=1e-5)
    assert float(lr(110)) == pytest.approx(0.1, rel=1e-5)


def test_exponential_schedule_warms_up_then_reaches_end_factor():
    cfg = OptimConfig(learning_rate=2.0, schedule="exponential", warmup_steps=10,
                      end_factor=0.1)
    lr = make_schedule(cfg, total_steps=110)
    assert float(lr(5)) == pytest.approx(1.0)
    assert float(lr(10)) == pytest.approx(2.0)
    assert float(lr(60)) == pytest.approx(2.0 * 0.1**0.5, rel=1e-5)  # half-way: sqrt decay
    assert float(lr(110)) == pytest.approx(0.2, rel=1e-5)
    assert float(lr(10_000)) == pytest.approx(0.2, rel=1e-5)  # never below the end value


def test_gradient_clipping_bounds_the_update():
    cfg = OptimConfig(optimizer="sgd", learning_rate=1.0, grad_clip_norm=1.0)
    tx = make_optimizer(cfg, 10)
    params = {"w": jnp.zeros(3)}
    grads = {"w": jnp.array([3.0, 4.0, 0.0])}  # norm 5
    updates, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_allclose(updates["w"], [-0.6, -0.8, 0.0], rtol=1e-6)
    assert float(optax.tree.norm(updates)) == pytest.approx(1.0, rel=1e-6)


def test_unknown_schedule_is_a_clear_error():
    cfg = dataclasses.replace(OptimConfig(), schedule="bogus")
    with pytest.raises(ValueError, match="unknown schedule 'bogus'"):
        make_schedule(cfg, 10)


def test_skip_zero_gradients_leaves_the_state_of_an_untouched_group_alone():
    from gen_jax.optim import skip_zero_gradients

    tx = skip_zero_gradients(optax.adam(0.1))
    params = {"w": jnp.ones(3)}
    state = tx.init(params)
    for _ in range(5):  # idle: zero updates, Adam's count and moments unchanged
        updates, state = tx.update({"w": jnp.zeros(3)}, state, params)
        assert not jnp.any(updates["w"])
    assert int(state.inner[0].count) == 0
    updates, state = tx.update({"w": jnp.asarray([1.0, -2.0, 0.5])}, state, params)
    np.testing.assert_allclose(updates["w"], [-0.1, 0.1, -0.1], rtol=1e-5)  # Adam's first step
