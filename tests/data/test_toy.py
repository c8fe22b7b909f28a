"""Toy 2-D sets: the empirical statistics match the specified distributions."""

from __future__ import annotations

import numpy as np
import pytest

from gen_jax import data

N = 100_000


def test_toy_modes_geometry():
    ring, ring_std = data.toy_modes("ring8")
    assert ring.shape == (8, 2) and ring.dtype == np.float32 and ring_std == 0.01
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 2.0, rtol=1e-6)
    np.testing.assert_allclose(ring[0], [2.0, 0.0], atol=1e-6)
    ring1, ring1_std = data.toy_modes("ring8_r1")
    assert ring1_std == 0.01
    np.testing.assert_allclose(ring1, ring / 2, atol=1e-6)  # PacGAN's ring: radius 1
    grid, grid_std = data.toy_modes("grid25")
    assert grid.shape == (25, 2) and grid_std == 0.05
    assert sorted(map(tuple, grid.tolist())) == [
        (float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)
    ]
    with pytest.raises(data.DataError, match="has no modes"):
        data.toy_modes("two_moons")


@pytest.mark.parametrize("name", ["ring8", "ring8_r1", "grid25"])
def test_mixture_statistics(name):
    ds = data.load(name, "train", seed=0)
    centers, std = data.toy_modes(name)
    m = len(centers)
    # Modes are tens of stds apart, so the nearest centre is the label for every point.
    nearest = np.argmin(((ds.x[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(nearest, ds.label)
    # Equal weights: each count within 5 binomial standard deviations of N / M.
    counts = np.bincount(ds.label, minlength=m)
    assert np.all(np.abs(counts - N / m) < 5 * np.sqrt(N * (1 / m) * (1 - 1 / m)))
    for k in range(m):
        points = ds.x[ds.label == k].astype(np.float64)
        # Mean within 5 standard errors of the centre; std within 5% (its relative error is
        # about 1 / sqrt(2 n) < 1% here).
        np.testing.assert_allclose(points.mean(0), centers[k], atol=5 * std / np.sqrt(len(points)))
        np.testing.assert_allclose(points.std(0), std, rtol=0.05)


def test_two_moons_shape_and_noise():
    ds = data.load("two_moons", "train", seed=0)
    assert np.bincount(ds.label).tolist() == [N // 2, N - N // 2]
    u = (ds.x.astype(np.float64) - np.array([-1.0, -0.2])) / 2.0  # back to scikit-learn's frame
    # scikit-learn's moons: upper = unit half-circle around (0, 0), lower = around (1, 0.5); the
    # radial spread is the noise, 0.1 (FFJORD's).
    for label, centre in ((0, np.array([0.0, 0.0])), (1, np.array([1.0, 0.5]))):
        r = np.linalg.norm(u[ds.label == label] - centre, axis=1)
        assert abs(r.mean() - 1.0) < 0.01
        assert 0.095 < r.std() < 0.105
    assert np.all(np.abs(ds.x[:, 0]) < 4.2) and np.all((ds.x[:, 1] > -2.5) & (ds.x[:, 1] < 3.1))


def test_checkerboard_occupies_alternate_squares():
    x = data.load("checkerboard", "train", seed=0).x
    assert np.all(np.abs(x) <= 4.0)
    cell = np.floor(x / 2).astype(int)  # [N, 2] in {-2, -1, 0, 1}
    assert np.all((cell.sum(1) % 2) == 0)  # only the 8 "even" squares of the 4x4 board
    cells, counts = np.unique(cell, axis=0, return_counts=True)
    assert len(cells) == 8
    assert np.all(np.abs(counts - N / 8) < 5 * np.sqrt(N * (1 / 8) * (7 / 8)))
    # Uniform within each square: the fractional position has mean 1/2 and variance 1/12.
    frac = x / 2 - np.floor(x / 2)
    np.testing.assert_allclose(frac.mean(0), 0.5, atol=0.005)
    np.testing.assert_allclose(frac.var(0), 1 / 12, atol=0.002)
