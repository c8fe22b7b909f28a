"""Conditional batch normalization (de Vries et al. 2017; Miyato & Koyama 2018) and batch
normalization with per-group training statistics (PacGAN's generator under packing)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn

from ._precision import output_dtype


class ConditionalBatchNorm(nn.Module):
    """Batch normalization whose scale and shift are looked up per class.

    ``y = gamma[label] * normalize(x) + beta[label]``, with ``gamma`` initialized to ones and
    ``beta`` to zeros (so it starts as plain batch norm); statistics over all axes but the last,
    kept in ``batch_stats`` as in ``nn.BatchNorm``.

    Attributes:
      num_classes: number of label classes.
      momentum: decay of the running statistics.
      epsilon: added to the variance.
      axis_name: mapped axis to average the training statistics over (cross-replica batch
        norm under ``pmap``); None: the batch in hand.
    """

    num_classes: int
    momentum: float = 0.9
    epsilon: float = 1e-5
    axis_name: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array, label: jax.Array, *, train: bool) -> jax.Array:
        """``x`` ``[B, ..., F]``, ``label`` int ``[B]`` -> ``[B, ..., F]``."""
        h = nn.BatchNorm(use_running_average=not train, momentum=self.momentum,
                         epsilon=self.epsilon, use_scale=False, use_bias=False,
                         axis_name=self.axis_name)(x)
        features = x.shape[-1]
        gamma = nn.Embed(self.num_classes, features, embedding_init=nn.initializers.ones,
                         name="gamma")(label)
        beta = nn.Embed(self.num_classes, features, embedding_init=nn.initializers.zeros,
                        name="beta")(label)
        shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (features,)
        return h * gamma.reshape(shape).astype(h.dtype) + beta.reshape(shape).astype(h.dtype)


class GroupedBatchNorm(nn.Module):
    """Batch norm whose training-mode normalization uses each group's own statistics.

    Example ``i`` of the batch belongs to group ``i % groups``: the layout of PacGAN packing
    (:func:`gen_jax.models.pack` puts examples ``j, j + pac, ...`` at pack position ``j``), so
    with ``groups=pac`` each pack position is normalized as if the network had been run on it
    alone, as PacGAN's code does (one generator call per position). Statistics are over all
    axes but the last, within a group; the running statistics (used when ``train`` is False)
    track the whole batch's mean and biased variance, as ``nn.BatchNorm``'s do, so inference
    does not depend on ``groups`` (PacGAN's code, in Blocks, averages the groups' means and
    standard deviations instead: the same mean, and a smaller variance, by the variance of the
    group means and that of their standard deviations, of order 1 / (group size) of it). With
    ``groups=1`` it computes what ``nn.BatchNorm`` does; the variables have ``nn.BatchNorm``'s
    names (``scale``, ``bias``; ``mean``, ``var``).

    Attributes:
      groups: number of interleaved groups (the batch must be a multiple of it).
      momentum: decay of the running statistics.
      epsilon: added to the variance.
      axis_name: mapped axis to average the training statistics over (cross-replica batch
        norm under ``pmap``; every shard's batch a multiple of ``groups``, of equal size);
        None: the batch in hand.
    """

    groups: int = 1
    momentum: float = 0.99
    epsilon: float = 1e-5
    axis_name: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        """``x`` ``[B, ..., F]`` -> ``[B, ..., F]`` (float32 or wider, as ``nn.BatchNorm``)."""
        features = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (features,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (features,), jnp.float32)
        ra_mean = self.variable("batch_stats", "mean", jnp.zeros, (features,), jnp.float32)
        ra_var = self.variable("batch_stats", "var", jnp.ones, (features,), jnp.float32)
        x = x.astype(output_dtype(x.dtype))
        if not train:
            y = (x - ra_mean.value) * jax.lax.rsqrt(ra_var.value + self.epsilon)
            return y * scale + bias
        n = x.shape[0]
        if self.groups < 1 or n % self.groups:
            raise ValueError(f"GroupedBatchNorm: a batch of {n} cannot be split into "
                             f"{self.groups} groups; use a batch that is a multiple of groups")
        g = x.reshape(n // self.groups, self.groups, *x.shape[1:])
        axes = (0, *range(2, g.ndim - 1))  # all but the group and feature axes
        mean, second = self._mean((g.mean(axes, keepdims=True),
                                   (g * g).mean(axes, keepdims=True)))
        var = jnp.maximum(second - mean**2, 0.0)
        y = ((g - mean) * jax.lax.rsqrt(var + self.epsilon)).reshape(x.shape)
        if not self.is_initializing():
            whole = tuple(range(x.ndim - 1))
            batch_mean, batch_second = self._mean((x.mean(whole), (x * x).mean(whole)))
            batch_var = jnp.maximum(batch_second - batch_mean**2, 0.0)
            m = self.momentum
            ra_mean.value = m * ra_mean.value + (1.0 - m) * batch_mean
            ra_var.value = m * ra_var.value + (1.0 - m) * batch_var
        return y * scale + bias

    def _mean(self, tree):
        """Shard means -> global means (equal shard sizes) under ``axis_name``."""
        return tree if self.axis_name is None else jax.lax.pmean(tree, self.axis_name)
