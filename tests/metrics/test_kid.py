"""KID: the unbiased MMD^2 against numpy, and its unbiasedness."""

import jax
import numpy as np
import pytest

from gen_jax.metrics import kernel_inception_distance, mmd2_unbiased

from . import _reference as ref


def test_mmd2_matches_numpy_blockwise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(45, 10)).astype(np.float32)
    y = (rng.normal(size=(45, 10)) + 0.3).astype(np.float32)
    want = ref.mmd2_unbiased(x, y)
    for block_size in (None, 8):  # 45 = 5 x 8 + 5
        np.testing.assert_allclose(float(mmd2_unbiased(x, y, block_size=block_size)), want,
                                   rtol=1e-4)


def test_kid_is_the_mean_and_std_of_the_subset_estimates():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 6)).astype(np.float32)
    y = (rng.normal(size=(70, 6)) * 1.5).astype(np.float32)
    key = jax.random.key(3)
    out = kernel_inception_distance(x, y, key, num_subsets=5, subset_size=20)
    values = []
    for s in range(5):
        kx, ky = jax.random.split(jax.random.fold_in(key, s))
        xs = x[np.asarray(jax.random.permutation(kx, 60))[:20]]
        ys = y[np.asarray(jax.random.permutation(ky, 70))[:20]]
        values.append(ref.mmd2_unbiased(xs, ys))
    np.testing.assert_allclose([out.mean, out.std], [np.mean(values), np.std(values)],
                               rtol=1e-4)
    assert float(out.mean) > 0.05  # a real difference in scale is detected


TRIALS, SIZE, DIM = 200, 20, 8


def _estimates(estimator):
    """The estimator on TRIALS independent pairs of samples of one distribution, N(0, I)."""
    rng = np.random.default_rng(7)
    return np.array([estimator(rng.normal(size=(SIZE, DIM)), rng.normal(size=(SIZE, DIM)))
                     for _ in range(TRIALS)])


def test_unbiased_for_two_samples_of_one_distribution():
    # E[MMD^2_u] = 0: the mean of 200 independent estimates lies within 4 standard errors
    # (sample std / sqrt(200)) of 0, a test that fails with probability < 1e-4 by chance.
    values = _estimates(lambda a, b: float(mmd2_unbiased(a.astype(np.float32),
                                                          b.astype(np.float32))))
    stderr = values.std(ddof=1) / np.sqrt(TRIALS)
    assert abs(values.mean()) < 4 * stderr
    assert values.min() < 0 < values.max()  # unbiased estimates take both signs


def test_the_same_check_rejects_the_biased_estimator():
    # The check above has power: the V-statistic's bias is many standard errors from 0.
    values = _estimates(ref.mmd2_biased)
    stderr = values.std(ddof=1) / np.sqrt(TRIALS)
    assert values.mean() > 10 * stderr


def test_subset_size_must_fit():
    x = np.zeros((10, 3), np.float32)
    with pytest.raises(ValueError, match=r"subset_size=20 must be in 2\.\.10"):
        kernel_inception_distance(x, x, jax.random.key(0), subset_size=20)
