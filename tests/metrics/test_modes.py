"""Mode-collapse metrics on constructed sample sets whose answer is known."""

import math

import numpy as np
import pytest

from gen_jax.data import toy_modes
from gen_jax.metrics import (
    kl_to_uniform,
    label_coverage,
    mode_coverage,
    stacked_mnist_coverage,
    stacked_mnist_labels,
    toy_mode_coverage,
)


def _at_modes(name, per_mode, spread, rng):
    centers, std = toy_modes(name)
    idx = np.repeat(np.arange(len(centers)), per_mode)
    return centers[idx] + spread * std * rng.standard_normal((len(idx), 2)), len(centers)


@pytest.mark.parametrize("name", ["ring8", "ring8_r1", "grid25"])
def test_all_modes_evenly(name):
    x, m = _at_modes(name, 100, 0.5, np.random.default_rng(0))  # 0.5 std: all within 3 std
    cov = toy_mode_coverage(x, name)
    assert cov.modes == m and cov.high_quality == 1.0
    assert cov.kl == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(cov.counts, np.full(m, 100))


@pytest.mark.parametrize("name", ["ring8", "ring8_r1", "grid25"])
def test_one_mode(name):
    centers, std = toy_modes(name)
    x = centers[3] + 0.5 * std * np.random.default_rng(1).standard_normal((2500, 2))
    cov = toy_mode_coverage(x, name)
    assert cov.modes == 1 and cov.high_quality == 1.0
    assert cov.kl == pytest.approx(math.log(len(centers)), rel=1e-9)  # KL(delta || uniform)
    assert cov.counts[3] == 2500


def test_no_mode_and_the_three_std_radius():
    centers, std = toy_modes("grid25")
    # Halfway between modes: far from all of them, so nothing is high quality.
    x = centers[:4] + np.array([1.0, 1.0])
    cov = toy_mode_coverage(x, "grid25")
    assert cov.modes == 0 and cov.high_quality == 0.0 and math.isnan(cov.kl)
    # Just inside / just outside 3 standard deviations of a mode.
    inside = centers[0] + np.array([2.99 * std, 0.0])
    outside = centers[1] + np.array([0.0, 3.01 * std])
    cov = toy_mode_coverage(np.stack([inside, outside]), "grid25")
    assert cov.modes == 1 and cov.high_quality == 0.5 and cov.counts[0] == 1


def test_partial_coverage_kl_and_quality_by_hand():
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    x = np.concatenate([np.zeros((3, 2)), np.full((1, 2), 10.0), np.full((4, 2), 5.0)])
    cov = mode_coverage(x, centers, std=0.1)
    # High-quality histogram (3, 0, 0, 1): q = (3/4, 1/4), KL = sum q log(4 q).
    assert cov.modes == 2 and cov.high_quality == 0.5
    expected = 0.75 * math.log(3.0) + 0.25 * math.log(1.0)
    assert cov.kl == pytest.approx(expected, rel=1e-12)
    assert kl_to_uniform([3, 0, 0, 1]) == pytest.approx(expected, rel=1e-12)


def _fake_classifier(images):
    """Reads the digit off the top-right pixel: value d / 10."""
    return np.rint(np.asarray(images)[:, 0, 27, 0] * 10).astype(np.int32)


def test_stacked_mnist_labels_and_coverage():
    digits = np.array([[1, 2, 3], [9, 9, 9], [0, 0, 7], [1, 2, 3]])
    x = np.zeros((4, 28, 28, 3))
    x[:, 0, 27, :] = digits / 10.0  # only the top-right pixel: a transposed image reads 0
    labels = stacked_mnist_labels(x, _fake_classifier, batch_size=3)  # two classify calls
    np.testing.assert_array_equal(labels, [123, 999, 7, 123])
    cov = stacked_mnist_coverage(x, _fake_classifier)
    assert cov.modes == 3 and cov.counts[123] == 2
    q = np.array([0.5, 0.25, 0.25])
    assert cov.kl == pytest.approx(float(np.sum(q * np.log(q * 1000))), rel=1e-12)
    every = label_coverage(np.arange(1000).repeat(26), 1000)  # PacGAN's 26,000 samples
    assert every.modes == 1000 and every.kl == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1000\)"):
        label_coverage([1000], 1000)


def test_stacked_mnist_data_is_deterministic_and_labeled():
    from gen_jax.data._stacked import stacked_mnist

    rng = np.random.default_rng(0)
    label = rng.integers(0, 10, 50)
    x = (label[:, None, None, None] * np.ones((50, 28, 28, 1))).astype(np.uint8)  # pixel = digit
    a, la = stacked_mnist(x, label, 200, seed=1)
    b, lb = stacked_mnist(x, label, 200, seed=1)
    c, _ = stacked_mnist(x, label, 200, seed=1, stream=1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (200, 28, 28, 3) and a.dtype == np.uint8 and not np.array_equal(a, c)
    digits = a[:, 0, 0, :].astype(np.int64)
    np.testing.assert_array_equal(la, 100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2])
    cov = stacked_mnist_coverage(a / 10.0, _fake_classifier)  # classify each channel back
    assert cov.modes == len(np.unique(la)) > 100
