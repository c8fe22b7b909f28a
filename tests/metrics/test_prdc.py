"""Precision, recall, density and coverage against the prdc package's formulas in numpy."""

import numpy as np
import pytest

from gen_jax.metrics import density_coverage, inside_real_manifold, prdc, precision_recall

from . import _reference as ref


def _sets(seed, n=160, m=130, dim=12, shift=0.5):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(n, dim)).astype(np.float32)
    fake = (rng.normal(size=(m, dim)) * 1.2 + shift).astype(np.float32)
    return real, fake


@pytest.mark.parametrize("k, block_size, seed", [(5, None, 0), (3, None, 1), (5, 24, 2)])
def test_prdc_matches_brute_force(k, block_size, seed):
    # block_size 24: 160 = 6 x 24 + 16 and 130 = 5 x 24 + 10, so padded last blocks everywhere.
    real, fake = _sets(seed)
    got = prdc(real, fake, k=k, block_size=block_size)
    want = ref.prdc(real, fake, k)
    for name, value in want.items():
        assert 0.0 < value < 1.2, name  # a non-trivial case
        np.testing.assert_allclose(float(getattr(got, name)), value, rtol=1e-4, err_msg=name)


@pytest.mark.parametrize("block_size", [None, 24])
def test_the_per_sample_manifold_test_is_brute_force_and_averages_to_precision(block_size):
    real, fake = _sets(4)
    inside = np.asarray(inside_real_manifold(real, fake, k=3, block_size=block_size))
    d_real = np.linalg.norm(real[:, None] - real[None], axis=-1)
    radii = np.sort(d_real, axis=1)[:, 3]  # own zero first
    want = (np.linalg.norm(fake[:, None] - real[None], axis=-1) < radii[None]).any(axis=1)
    assert 0 < want.sum() < len(want)
    np.testing.assert_array_equal(inside, want)
    assert inside.mean() == pytest.approx(float(prdc(real, fake, k=3).precision), abs=1e-6)


def test_paper_defaults_k3_and_k5():
    real, fake = _sets(3)
    p, r = precision_recall(real, fake)
    d, c = density_coverage(real, fake)
    want3, want5 = ref.prdc(real, fake, 3), ref.prdc(real, fake, 5)
    np.testing.assert_allclose([p, r], [want3["precision"], want3["recall"]], rtol=1e-4)
    np.testing.assert_allclose([d, c], [want5["density"], want5["coverage"]], rtol=1e-4)


def test_identical_sets_are_perfect_and_disjoint_sets_score_zero():
    real, _ = _sets(4)
    same = prdc(real, real, k=5)
    assert (float(same.precision), float(same.recall), float(same.coverage)) == (1.0, 1.0, 1.0)
    far = prdc(real, real + 100.0, k=5)
    assert tuple(map(float, far)) == (0.0, 0.0, 0.0, 0.0)


def test_mode_dropping_lowers_recall_and_coverage_not_precision():
    rng = np.random.default_rng(5)
    centres = np.array([[0.0, 0.0], [10.0, 0.0]])
    real = (centres[rng.integers(0, 2, 400)] + rng.normal(size=(400, 2))).astype(np.float32)
    fake = (centres[0] + rng.normal(size=(400, 2))).astype(np.float32)  # one mode only
    out = prdc(real, fake, k=5)
    assert float(out.precision) > 0.9
    assert 0.4 < float(out.recall) < 0.6 and 0.4 < float(out.coverage) < 0.6


def test_k_must_leave_a_neighbour_in_both_sets():
    real, fake = _sets(6, n=20, m=5)
    with pytest.raises(ValueError, match=r"rows of generated"):
        prdc(real, fake, k=5)


@pytest.mark.parametrize("k", [3, 5])
def test_prdc_matches_the_prdc_package(k):
    # The reference implementation of Naeem et al. (test-only oracle, in the test extra), on
    # sets larger than one 2048-row tile so that the symmetric radius tiles are exercised.
    compute_prdc = pytest.importorskip("prdc").compute_prdc
    rng = np.random.default_rng(k)
    real = rng.normal(size=(2500, 24)).astype(np.float32)
    fake = (0.3 + 1.1 * rng.normal(size=(2100, 24))).astype(np.float32)
    want = compute_prdc(real, fake, nearest_k=k)
    got = prdc(real, fake, k=k)
    for name in ("precision", "recall", "density", "coverage"):
        np.testing.assert_allclose(float(getattr(got, name)), want[name], rtol=1e-4,
                                   err_msg=name)


def test_the_report_takes_precision_recall_at_k3_and_density_coverage_at_k5():
    import jax

    from gen_jax.metrics import sample_quality_from_features

    real, fake = _sets(7)
    report = sample_quality_from_features(real, fake, jax.random.PRNGKey(0))
    want3, want5 = ref.prdc(real, fake, 3), ref.prdc(real, fake, 5)
    assert want3["precision"] != want5["precision"] and want3["density"] != want5["density"]
    np.testing.assert_allclose([report["precision"], report["recall"]],
                               [want3["precision"], want3["recall"]], rtol=1e-4)
    np.testing.assert_allclose([report["density"], report["coverage"]],
                               [want5["density"], want5["coverage"]], rtol=1e-4)
