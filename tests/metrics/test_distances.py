"""Blockwise neighbour primitives against full numpy distance matrices."""

import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.metrics import knn_radii, nearest_neighbours
from gen_jax.metrics._distances import self_smallest_sq_distances, smallest_values

from . import _reference as ref


def test_smallest_values_count_ties_with_multiplicity():
    values = jnp.array([[3.0, 1.0, 1.0, 2.0, 1.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    np.testing.assert_array_equal(smallest_values(values, 5), np.sort(np.asarray(values), axis=1))


@pytest.mark.parametrize("block_size", [None, 8, 37])
def test_knn_radii_match_brute_force_on_every_block_layout(block_size):
    # 37 rows in blocks of 8: five blocks, the last padded with 3 copies.
    x = np.random.default_rng(0).normal(size=(37, 6)).astype(np.float32)
    x[5] = x[9]  # a duplicate: its nearest other row is at distance 0
    for k in (1, 3):
        got = knn_radii(x, k, block_size=block_size)
        np.testing.assert_allclose(got, ref.knn_radii(x, k), rtol=1e-5, atol=1e-5)
    assert float(knn_radii(x, 1, block_size=block_size)[5]) == pytest.approx(0.0, abs=1e-3)


def test_nearest_neighbours_match_brute_force_with_a_large_offset():
    # Features far from the origin: centring keeps float32 distances accurate.
    rng = np.random.default_rng(1)
    y = (rng.normal(size=(50, 16)) + 300.0).astype(np.float32)
    x = (rng.normal(size=(23, 16)) + 300.0).astype(np.float32)
    dist, index = nearest_neighbours(x, y, block_size=7)
    d = np.sqrt(ref.sq_dist(x, y))
    np.testing.assert_array_equal(index, d.argmin(1))
    np.testing.assert_allclose(dist, d.min(1), rtol=1e-4)


@pytest.mark.parametrize("call, match", [
    (lambda: knn_radii(np.zeros((5, 2)), 5), r"k=5 neighbours needs 1 <= k < 5"),
    (lambda: knn_radii(np.zeros((5, 2)), 0), r"k=0"),
    (lambda: knn_radii(np.zeros((5,)), 1), r"must be a \[N, D\] feature array"),
    (lambda: nearest_neighbours(np.zeros((3, 2)), np.zeros((3, 4))), r"2 features per row"),
])
def test_bad_input_is_a_one_line_value_error(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("n, m", [(5, 5), (300, 3), (3000, 6), (600, 2)])
def test_smallest_values_match_a_sort_with_ties_and_infinities(n, m):
    # 3000 columns and m = 6, 600 and m = 2 take the chunk-narrowing path (more than 4 * m * 64
    # columns).
    rng = np.random.default_rng(n)
    values = rng.integers(0, 50, size=(7, n)).astype(np.float32)  # many ties
    values[0, : n // 2] = np.inf
    values[1, -m:] = -3.0  # the smallest entries in the last (padded) chunk
    values[2] = np.inf  # fewer finite entries than m, all in the first chunk (as in the last,
    values[2, :3] = [5.0, 1.0, 7.0]  # padded distance tile): each counted once
    values[3] = np.inf
    values[3, [1, n - 1]] = [4.0, 2.0]  # two finite chunks, the first and the last
    got = smallest_values(jnp.asarray(values), m)
    np.testing.assert_array_equal(got, np.sort(values, axis=1)[:, :m])


def test_knn_radii_of_a_last_tile_with_few_rows_match_brute_force():
    # 29,697 rows in tiles of side 520 (more than 4 x 2 x 64 columns: the narrowing path): the
    # last tile holds 57 rows, so in its own tile each row has finite distances in one chunk
    # only. Counting that chunk twice gave these rows radius 0.
    x = np.random.default_rng(0).normal(size=(29697, 8)).astype(np.float32)
    got = np.asarray(knn_radii(x, 1, block_size=520))[-57:]
    want = np.sort(np.sqrt(ref.sq_dist(x[-57:], x)), axis=1)[:, 1]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("n, tile", [(37, 8), (64, 16), (50, None)])
def test_self_smallest_sq_distances_match_the_full_matrix(n, tile):
    # Only the tiles on and above the diagonal are computed; the rest comes from symmetry.
    x = np.random.default_rng(2).normal(size=(n, 5)).astype(np.float32)
    x[3] = x[20]  # a duplicate row: two zeros in its row
    got = self_smallest_sq_distances(jnp.asarray(x), 4, tile)
    want = np.sort(ref.sq_dist(x, x), axis=1)[:, :4]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert float(got[3, 1]) == pytest.approx(0.0, abs=1e-4)
