"""Conditional batch normalization (de Vries et al. 2017; Miyato & Koyama 2018)."""

from __future__ import annotations

import jax
from flax import linen as nn


class ConditionalBatchNorm(nn.Module):
    """Batch normalization whose scale and shift are looked up per class.

    ``y = gamma[label] * normalize(x) + beta[label]``, with ``gamma`` initialized to ones and
    ``beta`` to zeros (so it starts as plain batch norm); statistics over all axes but the last,
    kept in ``batch_stats`` as in ``nn.BatchNorm``.

    Attributes:
      num_classes: number of label classes.
      momentum: decay of the running statistics.
      epsilon: added to the variance.
    """

    num_classes: int
    momentum: float = 0.9
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array, label: jax.Array, *, train: bool) -> jax.Array:
        """``x`` ``[B, ..., F]``, ``label`` int ``[B]`` -> ``[B, ..., F]``."""
        h = nn.BatchNorm(use_running_average=not train, momentum=self.momentum,
                         epsilon=self.epsilon, use_scale=False, use_bias=False)(x)
        features = x.shape[-1]
        gamma = nn.Embed(self.num_classes, features, embedding_init=nn.initializers.ones,
                         name="gamma")(label)
        beta = nn.Embed(self.num_classes, features, embedding_init=nn.initializers.zeros,
                        name="beta")(label)
        shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (features,)
        return h * gamma.reshape(shape).astype(h.dtype) + beta.reshape(shape).astype(h.dtype)
