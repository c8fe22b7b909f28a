"""MLP: shapes, activations by name against numpy, dtypes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

from gen_jax.nn import MLP, get_activation

NUMPY_ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "gelu": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "silu": lambda x: x * scipy.special.expit(x),
}


@pytest.mark.parametrize("name", sorted(NUMPY_ACTIVATIONS))
def test_forward_matches_numpy(name):
    mlp = MLP(hidden=(7, 5), out_features=3, activation=name)
    x = jax.random.normal(jax.random.key(0), (4, 6))
    variables = mlp.init(jax.random.key(1), x)
    params = jax.tree.map(lambda a: np.asarray(a, np.float64), variables["params"])
    act = NUMPY_ACTIVATIONS[name]
    h = np.asarray(x, np.float64)
    for i in range(2):
        h = act(h @ params[f"Dense_{i}"]["kernel"] + params[f"Dense_{i}"]["bias"])
    expected = h @ params["Dense_2"]["kernel"] + params["Dense_2"]["bias"]
    np.testing.assert_allclose(jax.jit(mlp.apply)(variables, x), expected, rtol=1e-4, atol=1e-5)


def test_no_hidden_is_linear():
    mlp = MLP(hidden=(), out_features=2)
    x = jnp.ones((3, 4))
    variables = mlp.init(jax.random.key(0), x)
    assert set(variables["params"]) == {"Dense_0"}
    assert mlp.apply(variables, x).shape == (3, 2)


def test_unknown_activation_is_an_error():
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        get_activation("swishy")


def test_bfloat16_compute_keeps_float32_params():
    mlp = MLP(hidden=(8,), out_features=2, dtype=jnp.bfloat16)
    x = jnp.ones((3, 4))
    variables = jax.eval_shape(mlp.init, jax.random.key(0), x)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables))
    assert jax.eval_shape(mlp.apply, variables, x).dtype == jnp.bfloat16
