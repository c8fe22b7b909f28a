"""Blockwise Tanimoto reductions against a brute-force numpy matrix."""

import numpy as np
import pytest

from gen_jax import metrics


def _brute(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    both = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - both
    with np.errstate(invalid="ignore"):
        return np.where(union > 0, both / union, 1.0)


@pytest.fixture(scope="module")
def bits():
    rng = np.random.default_rng(0)
    a = (rng.random((37, 64)) < 0.2).astype(np.uint8)
    b = (rng.random((53, 64)) < 0.2).astype(np.uint8)
    a[3] = 0  # an empty fingerprint: similarity 1 to another empty one, 0 to the rest
    b[5] = 0
    return a, b


def test_nearest_and_mean_match_the_full_matrix(bits):
    a, b = bits
    sim = _brute(a, b)
    assert sim[3, 5] == 1.0 and sim[3, 0] == 0.0
    # blocks of 16 leave padded rows in both sets: they must not count
    np.testing.assert_allclose(metrics.tanimoto_aggregate(a, b, block=16), sim.max(1), atol=1e-6)
    np.testing.assert_allclose(metrics.tanimoto_aggregate(a, b, aggregate="mean", block=16),
                               sim.mean(1), atol=1e-6)
    np.testing.assert_allclose(
        metrics.tanimoto_aggregate(a, b, aggregate="mean", power=2.0, block=16),
        np.sqrt((sim ** 2).mean(1)), atol=1e-6)
    assert metrics.nearest_tanimoto(a, b, block=16) == pytest.approx(sim.max(1).mean(), abs=1e-6)
    self_sim = _brute(a, a)
    assert metrics.internal_diversity(a, block=16) == pytest.approx(1 - self_sim.mean(), abs=1e-6)
    assert metrics.internal_diversity(a, power=2.0, block=16) == pytest.approx(
        1 - np.sqrt((self_sim ** 2).mean(1)).mean(), abs=1e-6)


@pytest.mark.parametrize(("a", "b", "message"), [
    (np.ones((2, 8)), np.ones((2, 9)), "bits per row"),
    (np.full((2, 8), 2.0), np.ones((2, 8)), "other than 0 and 1"),
    (np.ones(8), np.ones((2, 8)), r"\[N, bits\]"),
])
def test_bad_input_is_one_clear_line(a, b, message):
    with pytest.raises(ValueError, match=message):
        metrics.tanimoto_aggregate(a, b)
