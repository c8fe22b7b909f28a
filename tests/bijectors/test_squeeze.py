"""Squeeze is a permutation of the entries, in gen_jax.nn.space_to_depth's layout."""

import jax.numpy as jnp
import numpy as np
import pytest

import gen_jax.bijectors as gb
from gen_jax.nn import space_to_depth


def test_squeeze_is_a_permutation_in_space_to_depth_layout():
    x = jnp.arange(2 * 3 * 4 * 6 * 5, dtype=jnp.float32).reshape(2, 3, 4, 6, 5)
    y, log_det = gb.Squeeze().forward_and_log_det(x)
    assert y.shape == (2, 3, 2, 3, 20) and log_det.shape == (2, 3)
    np.testing.assert_array_equal(log_det, 0.0)
    np.testing.assert_array_equal(np.sort(np.ravel(y)), np.ravel(x))  # every entry exactly once
    np.testing.assert_array_equal(y.reshape(6, 2, 3, 20), space_to_depth(x.reshape(6, 4, 6, 5), 2))
    np.testing.assert_array_equal(gb.Squeeze().inverse(y), x)


def test_squeeze_rejects_odd_sizes():
    with pytest.raises(ValueError, match="divisible"):
        gb.Squeeze().forward(jnp.ones((3, 4, 1)))
