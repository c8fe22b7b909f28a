"""The interface every model family implements, so one training engine serves them all."""

from __future__ import annotations

from typing import Any, Protocol

import jax

Variables = dict[str, Any]
"""Flax variables: ``{"params": ..., "batch_stats": ...}`` (``batch_stats`` only when used)."""

Batch = dict[str, jax.Array]
"""A model-space batch: ``"x"`` float32 ``[B, *shape]`` (discrete data scaled to ``[0, 1]``),
and ``"label"`` int32 ``[B]`` when the data set has labels."""

Metrics = dict[str, jax.Array]


class GenerativeModel(Protocol):
    """A model family bound to its config and its data's :class:`~gen_jax.data.DatasetInfo`.

    Every method is a pure function of its arguments (randomness only through ``key``), so the
    engine can ``jit`` it, shard it and differentiate through ``loss``.

    Families without a prior to sample from (the deterministic autoencoder) set
    ``has_prior = False`` and provide ``reconstruct(variables, x, label=None)``; the engine then
    draws reconstructions where it would draw samples.

    Families with several players (GANs) may also define
    ``make_optimizer(optim_config, total_steps) -> optax.GradientTransformation`` and
    ``make_train_step(preprocess, axis_name=None) -> step``; the engine then uses them in place
    of :func:`gen_jax.train.make_optimizer` and :func:`gen_jax.train.make_train_step` (the step
    must keep :class:`~gen_jax.train.TrainState`'s contract: pure, skips non-finite updates).
    """

    has_prior: bool

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """Initial variables for a batch of this shape."""
        ...

    def loss(
        self, variables: Variables, batch: Batch, key: jax.Array, *, train: bool
    ) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """Scalar loss (mean over the batch), scalar metrics, and updated non-param collections.

        The updated collections (e.g. ``{"batch_stats": ...}``) are ``{}`` for models without any.
        The return shape fits ``jax.value_and_grad(..., has_aux=True)``.
        """
        ...

    def sample(
        self, variables: Variables, key: jax.Array, num: int, label: jax.Array | None = None
    ) -> jax.Array:
        """``[num, *shape]`` samples in data space (``[0, 1]`` for image data)."""
        ...

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per-example evaluation metrics, each of shape ``[B]`` (averaged by the caller)."""
        ...
