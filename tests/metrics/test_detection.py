"""Detection metrics against scikit-learn's on the same scores; thresholds hit their rates."""

import numpy as np
import pytest
from sklearn import metrics as sk

from gen_jax import metrics


def _scored(seed, n=400, ties=True):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.2).astype(int)
    scores = rng.normal(size=n) + 1.2 * labels
    if ties:
        scores = np.round(scores, 1)  # many tied scores, across the classes too
    return scores, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [True, False])
def test_curve_metrics_match_scikit_learn(seed, ties):
    scores, labels = _scored(seed, ties=ties)
    assert metrics.auroc(scores, labels) == pytest.approx(sk.roc_auc_score(labels, scores),
                                                          abs=1e-12)
    assert metrics.average_precision(scores, labels) == pytest.approx(
        sk.average_precision_score(labels, scores), abs=1e-12)
    fpr, tpr, thresholds = metrics.roc_curve(scores, labels)
    sk_fpr, sk_tpr, sk_thresholds = sk.roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thresholds[1:], sk_thresholds[1:])
    # FPR at 95% TPR: the lowest FPR on scikit-learn's curve where TPR reaches 0.95.
    assert metrics.fpr_at_tpr(scores, labels) == pytest.approx(sk_fpr[sk_tpr >= 0.95].min())
    # TPR at 1% / 5% FPR: the highest TPR on scikit-learn's curve with FPR within the rate.
    for rate in (0.0, 0.01, 0.05):
        assert metrics.tpr_at_fpr(scores, labels, rate) == pytest.approx(
            sk_tpr[sk_fpr <= rate].max())
    t = float(np.median(scores))
    assert metrics.f1_at(scores, labels, t) == pytest.approx(sk.f1_score(labels, scores > t))
    report = metrics.detection_metrics(scores, labels, threshold=t)
    assert report.precision == pytest.approx(sk.precision_score(labels, scores > t))
    assert report.recall == pytest.approx(sk.recall_score(labels, scores > t))
    assert report.anomaly_rate == pytest.approx(labels.mean())


def test_perfect_chance_and_reversed_scores():
    labels = np.r_[np.zeros(50), np.ones(50)]
    assert metrics.auroc(np.arange(100), labels) == 1.0
    assert metrics.auroc(-np.arange(100.0), labels) == 0.0
    assert metrics.auroc(np.zeros(100), labels) == 0.5  # all tied: chance
    assert metrics.fpr_at_tpr(np.arange(100), labels) == 0.0


def test_thresholds_hit_their_rates():
    rng = np.random.default_rng(0)
    held_out, fresh = rng.normal(size=2000), rng.normal(size=200_000)
    t = metrics.threshold_for_fpr(held_out, 0.05)
    assert np.mean(held_out > t) <= 0.05  # exactly on the held-out scores
    # On new normal data: 0.05 up to the threshold's own sampling error (about
    # sqrt(0.05 * 0.95 / 2000) = 0.005), with room for three of them.
    assert abs(np.mean(fresh > t) - 0.05) < 0.015
    scores = rng.normal(size=1000)
    t = metrics.threshold_for_contamination(scores, 0.1)
    assert np.sum(scores > t) == 100
    assert metrics.threshold_for_contamination(scores, 0.0) == scores.max()


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.auroc([1.0, 2.0], [1, 1]), "all 2 labels are anomalous"),
    (lambda: metrics.auroc([1.0, 2.0], [0, 0]), "all 2 labels are normal"),
    (lambda: metrics.auroc([1.0, np.nan], [0, 1]), r"1 score\(s\) are NaN or Inf"),
    (lambda: metrics.auroc([1.0, 2.0], [0, 1, 1]), "3 labels for 2 scores"),
    (lambda: metrics.auroc([1.0, 2.0], [0, 2]), "labels must be 0"),
    (lambda: metrics.auroc([], []), "non-empty"),
    (lambda: metrics.threshold_for_fpr([1.0], 1.0), r"must lie in \[0, 1\)"),
    (lambda: metrics.threshold_for_contamination([1.0], -0.1), r"must lie in \[0, 1\)"),
    (lambda: metrics.fpr_at_tpr([1.0, 2.0], [0, 1], 0.0), r"tpr must lie in \(0, 1\]"),
    (lambda: metrics.tpr_at_fpr([1.0, 2.0], [0, 1], 1.0), r"fpr must lie in \[0, 1\)"),
])
def test_bad_input_is_one_clear_line(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_typicality_holds_its_level_and_catches_inputs_that_are_too_likely():
    rng = np.random.default_rng(0)
    train, held = rng.normal(100, 5, 5000), rng.normal(100, 5, 2000)
    test = metrics.TypicalityTest.fit(train, held, batch_size=10, alpha=0.05)
    # Normal batches: rejected at about alpha (bootstrap error and batch sampling allowed).
    normal = metrics.batch_statistics(test, rng.normal(100, 5, 20_000), 4000, seed=1)
    assert abs(np.mean(normal > test.threshold) - 0.05) < 0.02
    # Inputs the model finds more likely than its own data (NLL 92 +- 1): every single score is
    # "more normal" than typical, so a per-example score ranks them below the normals, but
    # their batches are atypical.
    odd = rng.normal(92, 1, 2000)
    per_example = metrics.auroc(np.r_[held, odd], np.r_[np.zeros(2000), np.ones(2000)])
    assert per_example < 0.1
    batches = np.r_[metrics.batch_statistics(test, held, 200, seed=2),
                    metrics.batch_statistics(test, odd, 200, seed=3)]
    assert metrics.auroc(batches, np.r_[np.zeros(200), np.ones(200)]) > 0.99
    assert test.is_ood(odd[:10]) and not test.is_ood(np.full(10, test.entropy))
    with pytest.raises(ValueError, match="cannot fill a batch of 10"):
        metrics.batch_statistics(test, odd[:5], 3)
