"""Classifier score and class counts."""

import numpy as np
import pytest

from gen_jax.metrics import class_counts, classifier_score

K = 10


def _one_hot_logits(labels):
    return np.where(np.eye(K)[labels] > 0, 1e4, -1e4).astype(np.float32)


def test_perfect_classifier_scores_k_on_balanced_and_1_on_single_class_samples():
    balanced = _one_hot_logits(np.arange(200) % K)
    single = _one_hot_logits(np.full(200, 3))
    np.testing.assert_allclose(classifier_score(balanced).mean, K, rtol=1e-5)
    np.testing.assert_allclose(classifier_score(single).mean, 1.0, rtol=1e-5)
    np.testing.assert_array_equal(class_counts(balanced), np.full(K, 20))
    np.testing.assert_array_equal(class_counts(single), np.eye(K, dtype=int)[3] * 200)


def test_matches_numpy_per_split():
    logits = np.random.default_rng(0).normal(size=(103, 5)).astype(np.float32) * 3
    got = classifier_score(logits, num_splits=4)  # 25 per split, 3 dropped
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    scores = []
    for part in np.split(p[:100], 4):
        kl = (part * (np.log(part) - np.log(part.mean(0)))).sum(1)
        scores.append(np.exp(kl.mean()))
    np.testing.assert_allclose([got.mean, got.std], [np.mean(scores), np.std(scores)],
                               rtol=1e-4)
    assert 1.0 < float(got.mean) < 5.0


def test_bad_logits():
    with pytest.raises(ValueError, match=r"logits must be \[N, K\]"):
        classifier_score(np.zeros(10))
    with pytest.raises(ValueError, match=r"num_splits=11 must be in 1\.\.10"):
        classifier_score(np.zeros((10, 3)), num_splits=11)
