"""The feature-extractor interface, and the glue from images (arrays, data sets, trained models)
to the feature arrays every sample-quality metric takes.

Any object with ``features(x) -> [N, D]`` is a :class:`FeatureExtractor`; one that also has
``logits(x) -> [N, K]`` is a :class:`Classifier` and feeds :func:`classifier_score`. The
toolkit's own trained MNIST / Fashion-MNIST classifiers (:func:`load_classifier`) are both;
InceptionV3 features from weights a user has plug in the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ..models import Sampling


@runtime_checkable
class FeatureExtractor(Protocol):
    """Maps a batch of images ``[B, H, W, C]`` (float32 in ``[0, 1]``) to features ``[B, D]``."""

    def features(self, x: jax.Array) -> jax.Array:
        """``[B, D]`` features of ``[B, H, W, C]`` images."""
        ...


@runtime_checkable
class Classifier(FeatureExtractor, Protocol):
    """A feature extractor that also gives class logits (for the classifier score)."""

    def logits(self, x: jax.Array) -> jax.Array:
        """``[B, K]`` class logits of ``[B, H, W, C]`` images."""
        ...


def batched_apply(fn: Callable[[jax.Array], jax.Array], x: ArrayLike, *,
                  batch_size: int = 500) -> np.ndarray:
    """``fn`` over ``x`` in batches of ``batch_size`` rows; results concatenated on the host.

    The last batch is padded (with copies of its last row) to keep one compiled shape, and its
    padding dropped.

    Args:
      fn: ``[B, ...] -> [B, ...]`` (e.g. ``extractor.features``).
      x: ``[N, ...]`` inputs (numpy or jax).
      batch_size: rows per call.

    Returns:
      numpy ``[N, ...]`` outputs.
    """
    n = np.shape(x)[0]
    if n == 0:
        raise ValueError("batched_apply got no rows; pass at least one image")
    batch_size = min(batch_size, n)
    x = np.asarray(x)
    out = []
    for start in range(0, n, batch_size):
        rows = np.minimum(np.arange(start, start + batch_size), n - 1)
        out.append(np.asarray(fn(jnp.asarray(x[rows])))[:min(batch_size, n - start)])
    return np.concatenate(out)


def extract_features(extractor: FeatureExtractor, images, *, batch_size: int = 500) -> np.ndarray:
    """``[N, D]`` features of ``[N, H, W, C]`` images in ``[0, 1]``, in batches."""
    if not isinstance(extractor, FeatureExtractor):
        raise ValueError(f"{type(extractor).__name__} is not a feature extractor: it needs a "
                         "features(x) -> [N, D] method")
    return batched_apply(extractor.features, images, batch_size=batch_size)


def extract_logits(classifier: Classifier, images, *, batch_size: int = 500) -> np.ndarray:
    """``[N, K]`` class logits of ``[N, H, W, C]`` images in ``[0, 1]``, in batches."""
    if not isinstance(classifier, Classifier):
        raise ValueError(f"{type(classifier).__name__} has no logits(x) method; the classifier "
                         "score needs a classifier, not only a feature extractor")
    return batched_apply(classifier.logits, images, batch_size=batch_size)


def dataset_images(dataset) -> np.ndarray:
    """The images of an :class:`~gen_jax.data.ArrayDataset` as float32 in ``[0, 1]``.

    Discrete data with ``L`` levels is scaled by ``1 / (L - 1)`` (the toolkit's model space).
    """
    from ..data import preprocess  # noqa: PLC0415

    return np.asarray(preprocess(dataset.x, None, dataset.info))


def model_samples(model: Any, variables: Any, key: jax.Array, num: int, *,
                  batch_size: int = 500, label: Any = None) -> np.ndarray:
    """``num`` samples of a trained generative model, drawn ``batch_size`` at a time.

    Batch ``i`` uses ``fold_in(key, i)``; one compiled shape serves every batch.

    Args:
      model: a :class:`~gen_jax.models.GenerativeModel` with a prior.
      variables: its variables (e.g. ``state.variables(ema=True)``).
      key: PRNG key.
      num: number of samples.
      batch_size: samples per call.
      label: ``[num]`` int labels for conditional models.

    Returns:
      numpy ``[num, *shape]`` samples in data space (``[0, 1]`` for images).
    """
    if num < 1:
        raise ValueError(f"num={num}: ask for at least one sample")
    if not isinstance(model, Sampling):
        raise ValueError(f"{type(model).__name__} has no prior to sample from; sample-quality "
                         "metrics need a generative model with a prior")
    batch_size = min(batch_size, num)
    labels = None if label is None else np.asarray(label, np.int32)
    sample = jax.jit(lambda v, k, lab: model.sample(v, k, batch_size, label=lab))
    out = []
    for i, start in enumerate(range(0, num, batch_size)):
        lab = None if labels is None else labels[np.minimum(np.arange(start, start + batch_size),
                                                              num - 1)]
        out.append(np.asarray(sample(variables, jax.random.fold_in(key, i), lab)))
    return np.concatenate(out)[:num]
