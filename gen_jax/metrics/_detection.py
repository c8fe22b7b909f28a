"""Anomaly-detection metrics on per-example scores: ROC, AUROC, AUPRC, FPR at a TPR, F1, and
the thresholds that turn scores into decisions.

Convention: a higher score means more anomalous; label 1 is anomalous (the positive class),
0 normal; an example is flagged when its score is *above* the threshold. The curve metrics
follow scikit-learn's definitions (``roc_curve``, ``roc_auc_score``,
``average_precision_score``), tied scores included, and are computed on the host in float64.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from jax.typing import ArrayLike


def _check(scores: ArrayLike, labels: ArrayLike | None = None,
           both: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    s = np.asarray(scores, np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"scores must be a non-empty 1-D array, got shape {s.shape}")
    if not np.isfinite(s).all():
        bad = np.flatnonzero(~np.isfinite(s))
        raise ValueError(f"{len(bad)} score(s) are NaN or Inf (first: example {bad[0]}); "
                         "check the inputs of those examples")
    if labels is None:
        return s, None
    y = np.asarray(labels)
    if y.shape != s.shape:
        raise ValueError(f"{y.shape[0] if y.ndim else 0} labels for {s.size} scores: pass one "
                         "label per score")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (normal) or 1 (anomalous)")
    y = y.astype(bool)
    if both and (y.all() or not y.any()):
        only = "anomalous" if y.all() else "normal"
        raise ValueError(f"all {y.size} labels are {only}: the curve metrics need normal (0) "
                         "and anomalous (1) examples")
    return s, y


def roc_curve(scores: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` at each distinct score, highest first, starting at (0, 0)
    with threshold ``+inf`` (scikit-learn's ``roc_curve`` with ``drop_intermediate=False``)."""
    s, y = _check(scores, labels, both=True)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # the last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    fpr = np.r_[0.0, fp / fp[-1]]
    tpr = np.r_[0.0, tp / tp[-1]]
    return fpr, tpr, np.r_[np.inf, s[last]]


def auroc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve: the probability that an anomalous example scores above a
    normal one, ties counted as one half (Mann-Whitney U)."""
    s, y = _check(scores, labels, both=True)
    ranks = _average_ranks(s)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(s: np.ndarray) -> np.ndarray:
    """1-based ranks of ``s``, ties given their mean rank."""
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], s.size]
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(s.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def average_precision(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the precision-recall curve as ``sum_n (R_n - R_{n-1}) P_n`` over the distinct
    thresholds (scikit-learn's ``average_precision_score``; no interpolation)."""
    s, y = _check(scores, labels, both=True)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def fpr_at_tpr(scores: ArrayLike, labels: ArrayLike, tpr: float = 0.95) -> float:
    """The lowest false-positive rate of any threshold that flags at least ``tpr`` of the
    anomalous examples (FPR at 95% TPR, the out-of-distribution literature's measure)."""
    if not 0.0 < tpr <= 1.0:
        raise ValueError(f"tpr must lie in (0, 1], got {tpr}")
    fpr, curve_tpr, _ = roc_curve(scores, labels)
    return float(fpr[np.argmax(curve_tpr >= tpr - 1e-12)])


def tpr_at_fpr(scores: ArrayLike, labels: ArrayLike, fpr: float = 0.01) -> float:
    """The highest true-positive rate of any threshold whose false-positive rate is at most
    ``fpr`` (TPR at 1% or 0.1% FPR, the membership-inference literature's measure; Carlini et
    al. 2022). 0 when no threshold above every score of the negatives is that strict."""
    if not 0.0 <= fpr < 1.0:
        raise ValueError(f"fpr must lie in [0, 1), got {fpr}")
    curve_fpr, tpr, _ = roc_curve(scores, labels)
    return float(np.max(tpr[curve_fpr <= fpr + 1e-12]))


def f1_at(scores: ArrayLike, labels: ArrayLike, threshold: float) -> float:
    """F1 of the anomalous class when examples scoring above ``threshold`` are flagged."""
    s, y = _check(scores, labels)
    flagged = s > threshold
    tp = int(np.sum(flagged & y))
    denominator = int(flagged.sum()) + int(y.sum())
    return 2.0 * tp / denominator if denominator else 0.0


def threshold_for_contamination(scores: ArrayLike, rate: float) -> float:
    """The threshold that flags a fraction ``rate`` of ``scores`` (the training data's expected
    share of anomalies, as PyOD's ``contamination``): at most ``floor(rate * N)`` of them score
    above it."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"the contamination rate must lie in [0, 1), got {rate}")
    s, _ = _check(scores)
    return _upper_quantile(s, rate)


def threshold_for_fpr(normal_scores: ArrayLike, fpr: float) -> float:
    """The threshold with false-positive rate at most ``fpr`` on held-out normal examples:
    at most ``floor(fpr * N)`` of ``normal_scores`` score above it, and on new normal data of
    the same distribution the rate is ``fpr`` up to sampling error."""
    if not 0.0 <= fpr < 1.0:
        raise ValueError(f"the target false-positive rate must lie in [0, 1), got {fpr}")
    s, _ = _check(normal_scores)
    return _upper_quantile(s, fpr)


def _upper_quantile(s: np.ndarray, rate: float) -> float:
    k = int(np.floor(rate * s.size))  # how many may lie above
    return float(np.sort(s)[s.size - k - 1])


@dataclasses.dataclass(frozen=True)
class Detection:
    """The detection metrics of scored, labelled examples.

    Attributes:
      auroc: area under the ROC curve (0.5: chance; 1: every anomaly above every normal).
      auprc: average precision (chance: the anomalous share).
      fpr_at_95_tpr: false-positive rate at 95% true-positive rate (lower is better).
      anomaly_rate: the anomalous share of the examples.
      threshold: the decision threshold (None: not given), and at it
      f1, precision, recall, false_positive_rate: of the flagged examples.
    """

    auroc: float
    auprc: float
    fpr_at_95_tpr: float
    anomaly_rate: float
    threshold: float | None = None
    f1: float | None = None
    precision: float | None = None
    recall: float | None = None
    false_positive_rate: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def detection_metrics(scores: ArrayLike, labels: ArrayLike,
                      threshold: float | None = None) -> Detection:
    """AUROC, AUPRC, FPR at 95% TPR and, at ``threshold``, F1, precision, recall and FPR."""
    s, y = _check(scores, labels, both=True)
    out = {"auroc": auroc(s, y), "auprc": average_precision(s, y),
           "fpr_at_95_tpr": fpr_at_tpr(s, y, 0.95), "anomaly_rate": float(y.mean())}
    if threshold is not None:
        flagged = s > threshold
        tp = int(np.sum(flagged & y))
        out |= {"threshold": float(threshold), "f1": f1_at(s, y, threshold),
                "precision": tp / int(flagged.sum()) if flagged.any() else 0.0,
                "recall": tp / int(y.sum()),
                "false_positive_rate": int(np.sum(flagged & ~y)) / int((~y).sum())}
    return Detection(**out)


@dataclasses.dataclass(frozen=True)
class TypicalityTest:
    """Nalisnick et al. (2019)'s typicality test for batches: a batch of ``batch_size`` inputs is
    out of distribution when its mean negative log-likelihood lies farther from the model's
    entropy estimate than held-out batches of that size do. It flags inputs the model finds
    *too likely* (a smooth background, a simple image) as well as too unlikely.

    Attributes:
      entropy: the entropy estimate ``H``, the mean NLL of the training examples.
      threshold: ``epsilon``, the ``1 - alpha`` quantile of ``|mean NLL - H|`` over bootstrap
        batches of held-out normal examples.
      batch_size: ``M``, the batch size the threshold holds for.
      alpha: the false-alarm rate on normal batches the threshold aims at.
    """

    entropy: float
    threshold: float
    batch_size: int
    alpha: float

    @classmethod
    def fit(cls, train_nll: ArrayLike, heldout_nll: ArrayLike, batch_size: int, *,
            alpha: float = 0.01, num_bootstrap: int = 2000, seed: int = 0) -> TypicalityTest:
        """The test from the training examples' NLLs (the entropy) and held-out normal NLLs
        (bootstrap batches of ``batch_size``, drawn with replacement)."""
        if batch_size < 1:
            raise ValueError(f"the batch size must be at least 1, got {batch_size}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
        train, _ = _check(train_nll)
        held, _ = _check(heldout_nll)
        entropy = float(train.mean())
        rng = np.random.default_rng(seed)
        means = held[rng.integers(0, held.size, (num_bootstrap, batch_size))].mean(axis=1)
        threshold = float(np.quantile(np.abs(means - entropy), 1.0 - alpha))
        return cls(entropy, threshold, int(batch_size), float(alpha))

    def statistic(self, batch_nll: ArrayLike) -> float:
        """``|mean NLL of the batch - H|``: larger is more atypical."""
        s, _ = _check(batch_nll)
        return float(abs(s.mean() - self.entropy))

    def is_ood(self, batch_nll: ArrayLike) -> bool:
        """Whether the batch is out of distribution at the test's level."""
        return self.statistic(batch_nll) > self.threshold


def batch_statistics(test: TypicalityTest, nll: ArrayLike, num_batches: int,
                     seed: int = 0) -> np.ndarray:
    """The typicality statistics of ``num_batches`` random batches (``test.batch_size``
    examples each, without replacement within a batch) of the examples ``nll``."""
    s, _ = _check(nll)
    if s.size < test.batch_size:
        raise ValueError(f"{s.size} examples cannot fill a batch of {test.batch_size}")
    rng = np.random.default_rng(seed)
    rows = np.stack([rng.choice(s.size, test.batch_size, replace=False)
                     for _ in range(num_batches)])
    return np.abs(s[rows].mean(axis=1) - test.entropy)
