"""Pure train and eval steps for single-objective families (autoencoders, VAEs, flows).

A step is a pure function ``(state, batch) -> (state, metrics)``; the engine jits it once with
shardings and donation (see :mod:`gen_jax.train._parallel`). Families with several players (GANs)
write their own step with the same signature and reuse :func:`guarded_update`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import chex
import jax
import jax.numpy as jnp
import optax

from ..models._base import Batch, GenerativeModel, Metrics
from ._state import TrainState

Preprocess = Callable[[dict[str, jax.Array], jax.Array], Batch]
"""Maps a stored batch (e.g. uint8 images) and a key to a model-space batch, on device."""

StepFn = Callable[[TrainState, dict[str, jax.Array]], tuple[TrainState, Metrics]]


def all_finite(tree: Any) -> jax.Array:
    """True when every leaf of ``tree`` is finite (a boolean scalar)."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def guarded_update(
    state: TrainState, grads: Any, loss: jax.Array, batch_stats: Any
) -> tuple[TrainState, Metrics]:
    """Applies ``grads`` unless the loss or a gradient is non-finite, then the step is skipped.

    A skipped step keeps params, optimizer state, EMA and batch statistics unchanged, advances the
    step counter (so the next step sees fresh data and keys) and counts the skip.
    """
    finite = jnp.isfinite(loss) & all_finite(grads)

    def apply(_):
        updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        ema = state.ema_params
        if ema is not None:
            ema = state.averaged(ema, params)
        return params, opt_state, ema, batch_stats

    def skip(_):
        return state.params, state.opt_state, state.ema_params, state.batch_stats

    # A branch, not a select over every leaf: a skipped step costs nothing, a taken one does
    # not pay for selecting between old and new parameters and optimizer moments.
    params, opt_state, ema, new_stats = jax.lax.cond(finite, apply, skip, None)
    run = jnp.where(finite, 0, state.consecutive_skipped + 1)
    new_state = state.replace(
        step=state.step + 1,
        params=params,
        opt_state=opt_state,
        ema_params=ema,
        batch_stats=new_stats,
        skipped=state.skipped + (~finite).astype(jnp.int32),
        consecutive_skipped=run,
        longest_skip_run=jnp.maximum(state.longest_skip_run, run),
    )
    metrics = {
        "grad_norm": jnp.where(finite, optax.tree.norm(grads), 0.0),
        "nonfinite": (~finite).astype(jnp.float32),
    }
    return new_state, metrics


def make_train_step(
    model: GenerativeModel, preprocess: Preprocess, *, axis_name: str | None = None
) -> StepFn:
    """The training step of a single-objective family.

    Args:
      model: the family, bound to its config and data.
      preprocess: stored batch + key -> model batch (dynamic binarization, dequantization, ...).
      axis_name: the pmap axis to average gradients and metrics over (None under ``jax.jit``,
        where the batch is one global array and the mean over it is already global).

    Returns:
      ``step(state, batch) -> (state, metrics)``, pure and ready for ``jax.jit``/``jax.pmap``.
    """

    def step(state: TrainState, batch: dict[str, jax.Array]) -> tuple[TrainState, Metrics]:
        chex.assert_rank(state.step, 0)
        key_data, key_loss = jax.random.split(state.step_key())
        if axis_name is not None:  # a different noise stream per device shard
            key_data = jax.random.fold_in(key_data, jax.lax.axis_index(axis_name))
            key_loss = jax.random.fold_in(key_loss, jax.lax.axis_index(axis_name))
        model_batch = preprocess(batch, key_data)

        def loss_fn(params):
            variables = state.variables() | {"params": params}
            return model.loss(variables, model_batch, key_loss, train=True)

        (loss, (metrics, updated)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params
        )
        batch_stats = updated.get("batch_stats", state.batch_stats)
        if axis_name is not None:
            grads, loss, metrics, batch_stats = jax.lax.pmean(
                (grads, loss, metrics, batch_stats), axis_name
            )
        state, guard_metrics = guarded_update(state, grads, loss, batch_stats)
        finite = guard_metrics["nonfinite"] == 0
        metrics = jax.tree.map(lambda m: jnp.where(finite, m, 0.0), {"loss": loss, **metrics})
        return state, {**metrics, **guard_metrics}

    return step


def train_step_of(
    model: GenerativeModel, preprocess: Preprocess, *, axis_name: str | None = None
) -> StepFn:
    """The model's own step when it defines ``make_train_step(preprocess, axis_name=)`` (GANs),
    else :func:`make_train_step` on its single loss."""
    own = getattr(model, "make_train_step", None)
    if own is not None:
        return own(preprocess, axis_name=axis_name)
    return make_train_step(model, preprocess, axis_name=axis_name)


def make_eval_step(
    model: GenerativeModel, preprocess: Preprocess, *, ema: bool = True,
    axis_name: str | None = None,
) -> Callable[[TrainState, dict[str, jax.Array], jax.Array], Metrics]:
    """``eval_step(state, batch, key) -> per-example metrics`` (EMA params when available)."""

    def eval_step(state: TrainState, batch: dict[str, jax.Array], key: jax.Array) -> Metrics:
        if axis_name is not None:  # a different noise stream per device shard, as in training
            key = jax.random.fold_in(key, jax.lax.axis_index(axis_name))
        key_data, key_eval = jax.random.split(key)
        return model.evaluate(state.variables(ema=ema), preprocess(batch, key_data), key_eval)

    return eval_step
