"""Pure train and eval steps, and the one update path every family's step goes through.

A step is a pure function ``(state, batch) -> (state, metrics)``; the engine jits it once with
shardings and donation (see :mod:`gen_jax.train._parallel`). Single-objective families
(autoencoders, VAEs, flows) give a loss and the engine differentiates it; families with several
players (:class:`~gen_jax.models.OwnUpdate`: GANs) propose every player's update themselves.
Either way :func:`commit_update` applies it: the non-finite guard, EMA and the counters live
there and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import chex
import jax
import jax.numpy as jnp
import optax

from ..models import (
    GenerativeModel,
    Metrics,
    OwnUpdate,
    Preprocess,
    PrivateUpdate,
    ScheduledLoss,
)
from ..models import all_finite as all_finite
from ..optim import DPSettings, clipped_gradient_sum, noisy_mean, private_metrics
from ._state import TrainState

StepFn = Callable[[TrainState, dict[str, jax.Array]], tuple[TrainState, Metrics]]


def commit_update(
    state: TrainState, finite: jax.Array, propose: Callable[[], tuple[Any, Any, Any]], *,
    ema_players: tuple[str, ...] | None = None, lazy: bool = True,
) -> TrainState:
    """The one update path: commits ``propose()`` when ``finite``, else skips the step.

    Args:
      state: the state before the step.
      finite: boolean scalar: the loss and gradients behind the proposal were all finite.
      propose: ``() -> (params, opt_state, batch_stats)``, the new values (``batch_stats``
        None: unchanged). Called inside the taken branch, so a skipped step computes nothing.
      ema_players: with EMA on, the top-level keys of ``params`` that are averaged (the others'
        EMA mirrors the new parameters); None: the whole tree.
      lazy: True: ``propose`` runs in the taken branch of a ``lax.cond``, so a skipped step
        computes nothing and a taken one selects nothing. False, for a proposal computed before
        ``finite`` is known (several players, whose later updates need the earlier ones): the
        old and new values are selected leaf by leaf, which keeps XLA from moving the
        proposal's computation into a branch (that changed its float32 rounding).

    Returns:
      The next state. A skipped step keeps params, optimizer state, EMA and batch statistics
      unchanged, advances the step counter (so the next step sees fresh data and keys) and
      counts the skip (``skipped``, ``consecutive_skipped``, ``longest_skip_run``).
    """

    def take(_):
        params, opt_state, batch_stats = propose()
        if batch_stats is None:
            batch_stats = state.batch_stats
        ema = state.ema_params
        if ema is not None:
            if ema_players is None:
                ema = state.averaged(ema, params)
            else:
                ema = {k: state.averaged(ema[k], v) if k in ema_players else v
                       for k, v in params.items()}
        return params, opt_state, ema, batch_stats

    def skip(_):
        return state.params, state.opt_state, state.ema_params, state.batch_stats

    if lazy:
        # A branch, not a select over every leaf: a skipped step costs nothing, a taken one
        # does not pay for selecting between old and new parameters and optimizer moments.
        params, opt_state, ema, new_stats = jax.lax.cond(finite, take, skip, None)
    else:
        params, opt_state, ema, new_stats = jax.tree.map(
            lambda new, old: jnp.where(finite, new, old), take(None), skip(None))
    run = jnp.where(finite, 0, state.consecutive_skipped + 1)
    return state.replace(
        step=state.step + 1,
        params=params,
        opt_state=opt_state,
        ema_params=ema,
        batch_stats=new_stats,
        skipped=state.skipped + (~finite).astype(jnp.int32),
        consecutive_skipped=run,
        longest_skip_run=jnp.maximum(state.longest_skip_run, run),
    )


def guarded_update(
    state: TrainState, grads: Any, loss: jax.Array, batch_stats: Any
) -> tuple[TrainState, Metrics]:
    """Applies ``grads`` with ``state.tx`` through :func:`commit_update`: skipped when the loss
    or a gradient is non-finite. Metrics: ``grad_norm`` (0 when skipped) and ``nonfinite``."""
    finite = jnp.isfinite(loss) & all_finite(grads)

    def propose():
        updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
        return optax.apply_updates(state.params, updates), opt_state, batch_stats

    new_state = commit_update(state, finite, propose)
    metrics = {
        "grad_norm": jnp.where(finite, optax.tree.norm(grads), 0.0),
        "nonfinite": (~finite).astype(jnp.float32),
    }
    return new_state, metrics


def make_train_step(
    model: GenerativeModel, preprocess: Preprocess, *, axis_name: str | None = None,
    privacy: DPSettings | None = None,
) -> StepFn:
    """The training step of ``model``: its loss differentiated, or its own multi-player update
    (:class:`~gen_jax.models.OwnUpdate`), committed by :func:`commit_update`.

    Args:
      model: the family, bound to its config and data.
      preprocess: stored batch + key -> model batch (dynamic binarization, dequantization, ...).
      axis_name: the pmap axis to average gradients and metrics over (None under ``jax.jit``,
        where the batch is one global array and the mean over it is already global).
      privacy: DP-SGD (:mod:`gen_jax.train._privacy`): the batch carries ``weight`` (Poisson
        sampling's padding at 0), each example's gradient is clipped and the sum noised
        (``jax.jit`` only: ``axis_name`` must be None); a family with its own update privatizes
        it itself (:class:`~gen_jax.models.PrivateUpdate`).

    Returns:
      ``step(state, batch) -> (state, metrics)``, pure and ready for ``jax.jit``/``jax.pmap``.
      Metrics of a skipped step are 0, and ``nonfinite`` is 1.
    """
    if privacy is not None and axis_name is not None:
        raise ValueError("differentially private training runs under train.strategy jit")
    if isinstance(model, OwnUpdate):
        if privacy is None:
            return _own_update_step(model.make_update(preprocess, axis_name=axis_name))
        if not isinstance(model, PrivateUpdate):
            raise ValueError("this family's own update has no private form: differential "
                             "privacy covers single-loss families and the gan")
        return _own_update_step(model.make_private_update(preprocess, privacy))
    if privacy is not None:
        return _private_step(model, preprocess, privacy)

    def step(state: TrainState, batch: dict[str, jax.Array]) -> tuple[TrainState, Metrics]:
        chex.assert_rank(state.step, 0)
        key_data, key_loss = jax.random.split(state.step_key())
        if axis_name is not None:  # a different noise stream per device shard
            key_data = jax.random.fold_in(key_data, jax.lax.axis_index(axis_name))
            key_loss = jax.random.fold_in(key_loss, jax.lax.axis_index(axis_name))
        model_batch = preprocess(batch, key_data)

        def loss_fn(params):
            variables = state.variables() | {"params": params}
            if isinstance(model, ScheduledLoss):
                return model.loss_at(variables, model_batch, key_loss, state.step, train=True)
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


def _private_step(model: GenerativeModel, preprocess: Preprocess,
                  privacy: DPSettings) -> StepFn:
    """DP-SGD's step: each example's loss as a batch of one with its own key, gradients
    clipped and summed (:func:`gen_jax.optim.clipped_gradient_sum`), noised, divided by the
    expected batch size; metrics averaged over the drawn examples."""

    def step(state: TrainState, batch: dict[str, jax.Array]) -> tuple[TrainState, Metrics]:
        chex.assert_rank(state.step, 0)
        key_data, key_loss, key_noise = jax.random.split(state.step_key(), 3)
        weights = batch["weight"]
        model_batch = preprocess({k: v for k, v in batch.items() if k != "weight"}, key_data)

        def example_loss(params, row):
            example, key = row
            one = jax.tree.map(lambda v: v[None], example)
            variables = state.variables() | {"params": params}
            if isinstance(model, ScheduledLoss):
                loss, (metrics, _) = model.loss_at(variables, one, key, state.step, train=True)
            else:
                loss, (metrics, _) = model.loss(variables, one, key, train=True)
            return loss, metrics

        keys = jax.random.split(key_loss, weights.shape[0])
        grads, norms, (losses, metrics) = clipped_gradient_sum(
            example_loss, state.params, (model_batch, keys), weights, privacy.clip_norm,
            norm_chunk=privacy.norm_chunk)
        grads = noisy_mean(grads, privacy, key_noise)
        metrics = private_metrics({"loss": losses, **metrics}, weights, norms, privacy)
        state, guard_metrics = guarded_update(state, grads, metrics["loss"], state.batch_stats)
        finite = guard_metrics["nonfinite"] == 0
        metrics = jax.tree.map(lambda m: jnp.where(finite, m, 0.0), metrics)
        return state, {**metrics, **guard_metrics}

    return step


def _own_update_step(update: Callable) -> StepFn:
    """A step from a family's own update: its proposal committed by :func:`commit_update`."""

    def step(state: TrainState, batch: dict[str, jax.Array]) -> tuple[TrainState, Metrics]:
        proposal, metrics = update(state, batch)
        finite = proposal.finite
        new_state = commit_update(
            state, finite, lambda: (proposal.params, proposal.opt_state, proposal.batch_stats),
            ema_players=proposal.ema_players, lazy=False)
        metrics = jax.tree.map(lambda m: jnp.where(finite, m, 0.0), metrics)
        return new_state, {**metrics, "nonfinite": (~finite).astype(jnp.float32)}

    return step


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
