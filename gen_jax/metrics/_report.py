"""Every sample-quality metric of a set of generated images at once, as a flat JSON-ready dict."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.typing import ArrayLike

from ._classifier_score import class_counts, classifier_score
from ._features import Classifier, extract_features, extract_logits
from ._frechet import frechet_distance
from ._kid import kernel_inception_distance
from ._novelty import novelty
from ._prdc import prdc


def sample_quality(
    extractor: Any,
    real_images: ArrayLike,
    generated_images: ArrayLike,
    key: jax.Array,
    *,
    train_images: ArrayLike=None,
    k_precision_recall: int = 3,
    k_density_coverage: int = 5,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    num_pairs: int = 16,
    batch_size: int = 500,
) -> dict[str, Any]:
    """Frechet distance, KID, precision/recall, density/coverage, novelty and classifier score.

    Args:
      extractor: a :class:`FeatureExtractor` (a :class:`Classifier` adds the classifier score
        and per-class counts).
      real_images: ``[N, H, W, C]`` held-out real images in ``[0, 1]`` (e.g. the test split,
        :func:`dataset_images`).
      generated_images: ``[M, H, W, C]`` samples in ``[0, 1]`` (e.g. :func:`model_samples`).
      key: PRNG key of the KID subsets.
      train_images: ``[T, H, W, C]`` training images; adds the novelty metrics when given.
      k_precision_recall: k of precision and recall (3, Kynkaanniemi et al.).
      k_density_coverage: k of density and coverage (5, Naeem et al.).
      kid_subsets: KID subsets.
      kid_subset_size: KID subset size, capped at ``min(N, M) // 2`` (at least 2) so that the
        subsets differ and ``kid_std`` measures something: subsets of a whole set are the same
        set reshuffled, whose spread is float noise.
      num_pairs: closest generated/training pairs to list.
      batch_size: images per feature-extractor call.

    Returns:
      ``{"fd", "kid_mean", "kid_std", "precision", "recall", "density", "coverage"}`` floats;
      with ``train_images`` also ``"authenticity"``, ``"memorized_fraction"`` and
      ``"closest_pairs"`` (``[[generated index, train index, distance], ...]``); with a
      classifier ``"classifier_score"``, ``"classifier_score_std"`` (10 splits when there are at
      least 10 samples) and ``"class_counts"``.
    """
    real = extract_features(extractor, real_images, batch_size=batch_size)
    fake = extract_features(extractor, generated_images, batch_size=batch_size)
    train = (None if train_images is None
             else extract_features(extractor, train_images, batch_size=batch_size))
    logits = (extract_logits(extractor, generated_images, batch_size=batch_size)
              if isinstance(extractor, Classifier) else None)
    return sample_quality_from_features(
        real, fake, key, train_features=train, generated_logits=logits,
        k_precision_recall=k_precision_recall, k_density_coverage=k_density_coverage,
        kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, num_pairs=num_pairs)


def kid_subset_size_for(requested: int, num_real: int, num_generated: int) -> int:
    """The KID subset size used: ``requested`` capped at half the smaller set (at least 2)."""
    return max(2, min(requested, num_real // 2, num_generated // 2))


def sample_quality_from_features(
    real: ArrayLike,
    generated: ArrayLike,
    key: jax.Array,
    *,
    train_features: ArrayLike=None,
    generated_logits: ArrayLike=None,
    k_precision_recall: int = 3,
    k_density_coverage: int = 5,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    num_pairs: int = 16,
) -> dict[str, Any]:
    """:func:`sample_quality` on features already extracted (to score many sets against one
    reference without extracting its features again).

    Args:
      real: ``[N, D]`` features of the held-out real images.
      generated: ``[M, D]`` features of the generated images.
      key: PRNG key of the KID subsets.
      train_features: ``[T, D]`` features of the training images (adds the novelty metrics).
      generated_logits: ``[M, K]`` classifier logits of the generated images (adds the
        classifier score and per-class counts).
      k_precision_recall: k of precision and recall.
      k_density_coverage: k of density and coverage.
      kid_subsets: KID subsets.
      kid_subset_size: KID subset size, capped at ``min(N, M) // 2`` (at least 2) so that the
        subsets differ and ``kid_std`` measures something: subsets of a whole set are the same
        set reshuffled, whose spread is float noise.
      num_pairs: closest generated/training pairs to list.

    Returns:
      The dict of :func:`sample_quality`.
    """
    fake = generated
    subset_size = kid_subset_size_for(kid_subset_size, len(real), len(fake))
    kid = kernel_inception_distance(real, fake, key, num_subsets=kid_subsets,
                                    subset_size=subset_size)
    pr = prdc(real, fake, k=k_precision_recall)
    dc = pr if k_density_coverage == k_precision_recall else prdc(real, fake,
                                                                  k=k_density_coverage)
    out: dict[str, Any] = {
        "fd": float(frechet_distance(real, fake)),
        "kid_mean": float(kid.mean), "kid_std": float(kid.std), "kid_subset_size": subset_size,
        "precision": float(pr.precision), "recall": float(pr.recall),
        "density": float(dc.density), "coverage": float(dc.coverage),
    }
    if train_features is not None:
        nov = novelty(train_features, fake, num_pairs=min(num_pairs, len(fake)))
        out |= {
            "authenticity": float(nov.authenticity),
            "memorized_fraction": float(nov.memorized_fraction),
            "closest_pairs": [[int(g), int(t), float(d)] for g, t, d in
                              zip(np.asarray(nov.pair_generated), np.asarray(nov.pair_train),
                                  np.asarray(nov.pair_distance), strict=True)],
        }
    if generated_logits is not None:
        logits = generated_logits
        score = classifier_score(logits, num_splits=10 if len(logits) >= 10 else 1)
        out |= {"classifier_score": float(score.mean), "classifier_score_std": float(score.std),
                "class_counts": class_counts(logits).tolist()}
    return out
