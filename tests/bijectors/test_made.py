"""MADE (gen_jax.nn.MADE, tested here beside the flows that use it): the autoregressive property.

(Lives under tests/bijectors/ rather than tests/nn/ only because this change may not touch
tests/nn.)"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.nn import MADE

DIM = 5


def _degrees(order):
    if isinstance(order, str):
        perm = np.arange(DIM) if order == "identity" else np.arange(DIM)[::-1]
    else:
        perm = np.asarray(order)
    degrees = np.empty(DIM, int)
    degrees[np.asarray(perm)] = np.arange(1, DIM + 1)
    return degrees


@pytest.mark.parametrize("order, with_context", [
    ("identity", False), ("reversed", True), ((3, 0, 4, 1, 2), True)])
def test_output_depends_only_on_earlier_inputs(order, with_context):
    made = MADE(dim=DIM, hidden=(16, 16), num_params=3, order=order, activation="tanh")
    x = jax.random.normal(jax.random.key(0), (DIM,))
    context = jnp.ones(2) if with_context else None
    variables = made.init(jax.random.key(1), x, context)
    jac = jax.jit(jax.jacfwd(lambda v: made.apply(variables, v, context)))(x)  # [dim, P, dim]
    assert jac.shape == (DIM, 3, DIM)
    degrees = _degrees(order)
    allowed = degrees[None, :] < degrees[:, None]  # output i may see input j
    depends = np.any(np.abs(np.asarray(jac)) > 0, axis=1)
    np.testing.assert_array_equal(depends[~allowed], False)
    # ...and every allowed dependency is wired (hidden widths >= dim - 1, tanh has no dead units).
    np.testing.assert_array_equal(depends[allowed], True)


def test_shapes_and_context():
    made = MADE(dim=DIM, hidden=(8,), num_params=2)
    x = jnp.ones((2, 3, DIM))
    context = jax.random.normal(jax.random.key(2), (2, 3, 4))
    variables = jax.jit(made.init)(jax.random.key(3), x, context)
    apply = jax.jit(made.apply)
    out = apply(variables, x, context)
    assert out.shape == (2, 3, DIM, 2)
    # The first output in the order sees no input, but does see the context.
    other = apply(variables, x, context + 1.0)
    assert not np.allclose(out[..., 0, :], other[..., 0, :])


def test_float64_inputs_compute_in_float64():
    made = MADE(dim=DIM, hidden=(8,), num_params=2)
    with jax.enable_x64(True):
        x = jnp.ones(DIM, jnp.float64)
        assert jax.eval_shape(lambda: made.apply(made.init(jax.random.key(0), x), x)).dtype == (
            jnp.float64)


def test_rejects_a_bad_order():
    made = MADE(dim=3, hidden=(4,), num_params=1, order=[0, 0, 1])
    with pytest.raises(ValueError, match="permutation"):
        made.init(jax.random.key(0), jnp.ones(3))
