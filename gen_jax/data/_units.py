"""Units of likelihoods: nats per example to bits per dimension."""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np


def bits_per_dim(
    nll_nats: float | jax.Array | np.ndarray, dim: int, *, num_levels: int | None = None
) -> Any:
    """Converts a negative log-likelihood in nats per example to bits per dimension.

    Args:
      nll_nats: NLL per example in nats.
      dim: number of dimensions of an example (784 for MNIST).
      num_levels: set when ``nll_nats`` is a *density* of discrete data with ``num_levels``
        levels scaled to ``[0, 1]`` (e.g. ``(k + u) / 256``): adds ``dim * log(num_levels)``,
        the change of variables back to the integer grid, giving bits per dimension of the
        discrete data. Leave None for NLLs of discrete probabilities (Bernoulli, discretized
        logistic) or of continuous data on its own scale.

    Returns:
      ``(nll_nats + dim * log(num_levels)) / (dim * log 2)``, same type as ``nll_nats``.
    """
    offset = dim * math.log(num_levels) if num_levels is not None else 0.0
    return (nll_nats + offset) / (dim * math.log(2.0))
