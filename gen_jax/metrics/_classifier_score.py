"""Classifier score (Inception-Score style, Salimans et al. 2016) and per-class sample counts.

``score = exp(E_x KL(p(y | x) || p(y)))`` with ``p(y)`` the mean of ``p(y | x)`` over the
samples: between 1 (every sample gets the same class distribution) and K (confident, one-hot
predictions spread evenly over the K classes).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike


class ClassifierScore(NamedTuple):
    """Mean and standard deviation (``ddof = 0``, as in Salimans et al.) over splits."""

    mean: jax.Array
    std: jax.Array


def _check_logits(logits) -> jax.Array:
    if np.ndim(logits) != 2 or np.shape(logits)[0] < 1 or np.shape(logits)[1] < 2:
        raise ValueError(f"logits must be [N, K] with N >= 1 and K >= 2 classes, got shape "
                         f"{np.shape(logits)}; pass the classifier's logits of the samples")
    return jnp.asarray(logits, jnp.float32)


def classifier_score(logits: ArrayLike, *, num_splits: int = 1) -> ClassifierScore:
    """Inception-Score-style classifier score of samples from their class logits.

    Args:
      logits: ``[N, K]`` unnormalized log-probabilities ``log p(y | x)`` of ``N`` samples.
      num_splits: score ``num_splits`` equal consecutive splits separately (10 in Salimans et
        al.; the last ``N mod num_splits`` samples are dropped) and report mean and std.

    Returns:
      :class:`ClassifierScore` of float scalars (std is 0 for one split).
    """
    logits = _check_logits(logits)
    n = logits.shape[0]
    if not 1 <= num_splits <= n:
        raise ValueError(f"num_splits={num_splits} must be in 1..{n} (the number of samples)")
    size = n // num_splits
    log_p = jax.nn.log_softmax(logits[:size * num_splits], axis=-1)
    scores = jax.vmap(_score)(log_p.reshape(num_splits, size, -1))
    return ClassifierScore(jnp.mean(scores), jnp.std(scores))


@jax.jit
def _score(log_p: jax.Array) -> jax.Array:
    """``exp(mean KL(p(y|x) || p(y)))`` of ``[n, K]`` log-probabilities."""
    p = jnp.exp(log_p)
    log_marginal = jnp.log(jnp.mean(p, axis=0))
    terms = jnp.where(p > 0, p * (log_p - log_marginal[None, :]), 0.0)  # 0 log 0 = 0
    return jnp.exp(jnp.mean(jnp.sum(terms, axis=-1)))


def class_counts(logits: ArrayLike) -> np.ndarray:
    """Number of samples assigned (argmax) to each class.

    Args:
      logits: ``[N, K]`` class logits (or probabilities) of ``N`` samples.

    Returns:
      int64 ``[K]`` counts summing to ``N``.
    """
    logits = _check_logits(logits)
    predicted = np.asarray(jnp.argmax(logits, axis=-1))
    return np.bincount(predicted, minlength=logits.shape[1]).astype(np.int64)
