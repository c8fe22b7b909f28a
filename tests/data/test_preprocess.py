"""On-device preprocessing: ranges, dynamic binarization statistics, dequantization, errors."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import data
from gen_jax.data import _preprocess

MNIST = data.info("mnist")
DIGITS = data.info("digits")
BINARY = data.info("binarized_mnist")
RING = data.info("ring8")


def _all_levels(levels: int, repeats: int) -> np.ndarray:
    """``[levels, repeats, 1]`` uint8: row k holds the value k ``repeats`` times."""
    return np.repeat(np.arange(levels, dtype=np.uint8)[:, None, None], repeats, axis=1)


@pytest.mark.parametrize("info", [MNIST, DIGITS, BINARY], ids=lambda i: i.name)
def test_scaling(info):
    x = _all_levels(info.num_levels, 3)
    y = data.preprocess(x, None, info)
    assert y.dtype == jnp.float32 and y.shape == x.shape
    np.testing.assert_allclose(y[:, 0, 0], np.arange(info.num_levels) / (info.num_levels - 1))
    assert float(y.min()) == 0.0 and float(y.max()) == 1.0


def test_dynamic_binarization_mean_matches_intensity():
    repeats = 4000
    x = _all_levels(256, repeats)
    y = np.asarray(data.preprocess(x, jax.random.key(0), MNIST, binarize=True))
    assert set(np.unique(y).tolist()) <= {0.0, 1.0}
    p = np.arange(256) / 255
    # Each level's mean is a Binomial(repeats, p) / repeats: allow 5 standard deviations.
    tolerance = 5 * np.sqrt(p * (1 - p) / repeats) + 1e-9
    assert np.all(np.abs(y.mean(axis=(1, 2)) - p) <= tolerance)
    assert np.all(y[0] == 0) and np.all(y[255] == 1)  # p = 0 and p = 1 are deterministic


def test_dynamic_binarization_of_real_images(load_real):
    x = load_real("mnist", "test", size=512).x
    y = data.preprocess(x, jax.random.key(1), MNIST, binarize=True)
    # Over 512 x 784 pixels the overall mean is within 0.005 of the mean intensity (the standard
    # error is below 0.001).
    assert abs(float(y.mean()) - x.mean() / 255) < 0.005


def test_dynamic_binarization_is_fresh_per_key_and_jits():
    x = _all_levels(256, 64)
    step = jax.jit(functools.partial(data.preprocess, info=MNIST, binarize=True))
    a, b = step(x, jax.random.key(0)), step(x, jax.random.key(1))
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, step(x, jax.random.key(0)))
    np.testing.assert_array_equal(a, data.preprocess(x, jax.random.key(0), MNIST, binarize=True))


@pytest.mark.parametrize("info", [MNIST, DIGITS, BINARY], ids=lambda i: i.name)
def test_dequantization_floors_back(info):
    levels = info.num_levels
    x = _all_levels(levels, 2000)
    y = np.asarray(data.preprocess(x, jax.random.key(2), info, dequantize=True))
    assert y.dtype == np.float32 and y.min() >= 0.0 and y.max() < 1.0
    np.testing.assert_array_equal(np.floor(y * levels), x)
    noise = y * levels - x  # the uniform draws
    np.testing.assert_allclose(noise.mean(), 0.5, atol=0.01)
    np.testing.assert_allclose(noise.var(), 1 / 12, atol=0.005)


@pytest.mark.parametrize("levels", [2, 7, 17, 100, 255, 256, 1000])
def test_dequantization_at_float32_edges(levels):
    """Noise at the edges of [0, 1), where float32 rounding would cross a level boundary."""
    eps = 2.0**-24
    k = jnp.arange(levels, dtype=jnp.float32)[:, None]
    u = jnp.array(
        [0.0, eps, 2 * eps, 1e-7, 0.5, 1 - 1e-6, 1 - 4 * eps, 1 - 2 * eps, 1 - eps], jnp.float32
    )
    u = jnp.broadcast_to(u, (levels, len(u)))
    y = np.asarray(_preprocess.dequantize_with_noise(k, u, levels))
    assert y.max() < 1.0
    np.testing.assert_array_equal(np.floor(y * np.float32(levels)), np.broadcast_to(k, y.shape))
    np.testing.assert_allclose(y, (k + u) / levels, rtol=1e-6)  # nudges stay within an ulp or so


def test_continuous_data_passes_through():
    x = data.load("ring8", "test", size=10).x
    y = data.preprocess(x, None, RING)
    assert y.dtype == jnp.float32
    np.testing.assert_array_equal(y, x)


def test_errors():
    x = np.zeros((2, 28, 28, 1), np.uint8)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="mutually exclusive"):
        data.preprocess(x, key, MNIST, binarize=True, dequantize=True)
    with pytest.raises(ValueError, match="continuous"):
        data.preprocess(np.zeros((2, 2), np.float32), key, RING, dequantize=True)
    with pytest.raises(ValueError, match="PRNG key"):
        data.preprocess(x, None, MNIST, binarize=True)


def test_perturb_replaces_values_at_the_given_rate_with_uniform_levels():
    import jax

    from gen_jax.data import DatasetInfo, preprocess

    info = DatasetInfo("d", (64, 64, 1), 0, 256, {})
    x = np.full((8, 64, 64, 1), 7, np.uint8)
    out = np.asarray(preprocess(x, jax.random.PRNGKey(0), info, perturb=0.25)) * 255
    swapped = np.round(out) != 7
    assert abs(swapped.mean() - 0.25 * 255 / 256) < 0.01  # a swap to 7 itself stays 7
    assert abs(np.round(out[swapped]).mean() - 127.5) < 3  # uniform over the levels
    same = np.asarray(preprocess(x, jax.random.PRNGKey(0), info)) * 255
    assert (np.round(same) == 7).all()  # off by default
    with pytest.raises(ValueError, match="perturb need discrete data"):
        preprocess(np.zeros((2, 3), np.float32), jax.random.PRNGKey(0),
                   DatasetInfo("c", (3,), 0, None, {}), perturb=0.1)
