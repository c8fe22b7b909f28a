"""The one train state every family uses: a pytree the jitted step consumes and returns."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct


class TrainState(struct.PyTreeNode):
    """Everything a training run needs to continue exactly where it stopped.

    Attributes:
      step: number of steps taken (skipped non-finite steps included), int32 scalar.
      params: model parameters.
      opt_state: optimizer state of ``tx``.
      rng: the run's base PRNG key (uint32 ``[2]``); step ``s`` uses ``fold_in(rng, s)``.
      ema_params: exponential moving average of ``params`` (``None`` when EMA is off).
      batch_stats: non-trainable collections such as BatchNorm statistics (``{}`` when none).
      skipped: total steps skipped because the loss or a gradient was not finite.
      consecutive_skipped: non-finite steps in a row, reset by a good step.
      longest_skip_run: the longest run of consecutive non-finite steps so far (sticky, so the
        host can check it now and then without missing a run that has since ended).
      tx: the optax transformation (static).
      ema_decay: EMA decay (static; ignored when ``ema_params`` is ``None``). The decay applied
        at step ``t`` (skipped steps count, as in ``step``) is
        ``min(ema_decay, (1 + t) / (10 + t))``, so early averages are not dominated by the
        random initialization (:meth:`averaged`).
    """

    step: jax.Array
    params: Any
    opt_state: optax.OptState
    rng: jax.Array
    ema_params: Any
    batch_stats: Any
    skipped: jax.Array
    consecutive_skipped: jax.Array
    longest_skip_run: jax.Array
    tx: optax.GradientTransformation = struct.field(pytree_node=False)
    ema_decay: float = struct.field(pytree_node=False, default=0.0)

    @classmethod
    def create(
        cls,
        *,
        params: Any,
        tx: optax.GradientTransformation,
        rng: jax.Array,
        batch_stats: Any = None,
        ema_decay: float | None = None,
    ) -> TrainState:
        """A fresh state at step 0."""
        return cls(
            step=jnp.zeros((), jnp.int32),
            params=params,
            opt_state=tx.init(params),
            rng=rng,
            ema_params=jax.tree.map(jnp.copy, params) if ema_decay else None,
            batch_stats=batch_stats if batch_stats is not None else {},
            skipped=jnp.zeros((), jnp.int32),
            consecutive_skipped=jnp.zeros((), jnp.int32),
            longest_skip_run=jnp.zeros((), jnp.int32),
            tx=tx,
            ema_decay=float(ema_decay or 0.0),
        )

    def averaged(self, ema: Any, params: Any) -> Any:
        """``ema`` moved toward this step's new ``params`` by the decay of step ``self.step``.

        Each leaf keeps the dtype of ``ema``; a leaf that is not floating point (a counter, say)
        takes its value from ``params``.
        """
        t = self.step.astype(jnp.float32)
        decay = jnp.minimum(self.ema_decay, (1.0 + t) / (10.0 + t))

        def leaf(e: jax.Array, p: jax.Array) -> jax.Array:
            if not jnp.issubdtype(e.dtype, jnp.floating):
                return p
            return (decay * e + (1.0 - decay) * p).astype(e.dtype)

        return jax.tree.map(leaf, ema, params)

    def variables(self, *, ema: bool = False) -> dict[str, Any]:
        """Flax variables for ``apply``: the (EMA) params plus any batch statistics (the live
        parameters' running statistics, also beside the EMA params)."""
        params = self.ema_params if ema and self.ema_params is not None else self.params
        out = {"params": params}
        if self.batch_stats:
            out["batch_stats"] = self.batch_stats
        return out

    def step_key(self) -> jax.Array:
        """The key of the current step: ``fold_in(rng, step)``."""
        return jax.random.fold_in(self.rng, self.step)
