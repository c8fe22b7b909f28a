"""REINVENT (Olivecrona et al. 2017): fine-tuning an autoregressive molecule model toward an
objective by policy gradient, held near the pretrained prior.

Each step samples a batch from the agent (initialized as the prior), scores it (a reward in
``[0, 1]``), and regresses the agent's log-likelihood onto the augmented likelihood
``log P_prior(x) + sigma * reward(x)``: the minimizer is the prior tilted by
``exp(sigma * reward)``, so the agent moves toward high rewards without forgetting chemistry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ... import models
from ._objective import Oracle, Round
from ._runs import MoleculeRun

REWARD_RANGES = {"qed": (0.0, 1.0), "penalized_logp": (-2.0, 8.0), "logp": (-2.0, 8.0)}
"""Default ``(low, high)`` of the reward's linear map for the properties that have one."""


def reward_map(low: float, high: float) -> Callable[[np.ndarray], np.ndarray]:
    """``scores -> clip((score - low) / (high - low), 0, 1)``, NaN (invalid) -> 0."""
    if not high > low:
        raise ValueError(f"the reward range needs high > low, got ({low}, {high})")

    def reward(scores: np.ndarray) -> np.ndarray:
        r = np.clip((np.asarray(scores, np.float64) - low) / (high - low), 0.0, 1.0)
        return np.where(np.isnan(r), 0.0, r)
    return reward


def augmented_loss(agent_log_p: jax.Array, prior_log_p: jax.Array, reward: jax.Array,
                   sigma: float) -> jax.Array:
    """REINVENT's loss: ``mean((log P_prior + sigma * reward - log P_agent)^2)``."""
    return jnp.mean((prior_log_p + sigma * reward - agent_log_p) ** 2)


@dataclasses.dataclass
class AgentState:
    """The agent's parameters and optimizer state, and the steps taken."""

    params: Any
    opt_state: Any
    step: int


def reinvent(mrun: MoleculeRun, oracle: Oracle, key: jax.Array, *, reward: Callable[
        [np.ndarray], np.ndarray], steps: int | None = None, batch_size: int = 64,
        sigma: float = 60.0, learning_rate: float = 5e-4,
        report: Callable[[Round], None] | None = None) -> tuple[list[Round], AgentState]:
    """Fine-tunes the run's model (a family with :class:`~gen_jax.models.Sampling` and
    :class:`~gen_jax.models.ExactLikelihood`: charrnn, transformer_lm) toward the oracle's
    objective for ``steps`` steps (None: until the oracle's budget is spent) of ``batch_size``
    molecules. Returns one :class:`Round` per step and the agent."""
    mrun.require(models.ExactLikelihood, "REINVENT", "charrnn, transformer_lm")
    mrun.require(models.Sampling, "REINVENT", "charrnn, transformer_lm")
    if batch_size < 1 or sigma <= 0 or learning_rate <= 0:
        raise ValueError("REINVENT's batch size, sigma and learning rate must be positive")
    if steps is None and oracle.budget is None:
        raise ValueError("REINVENT needs a number of steps or an oracle budget to stop at")
    model, prior = mrun.model, mrun.variables
    tx = optax.adam(learning_rate)

    def variables(params):
        return {**prior, "params": params}

    @jax.jit
    def sample(params, k):
        return model.sample(variables(params), k, batch_size)

    @jax.jit
    def update(params, opt_state, x, r):
        prior_log_p = model.log_prob(prior, x)

        def loss(p):
            return augmented_loss(model.log_prob(variables(p), x), prior_log_p, r, sigma)

        value, grad = jax.value_and_grad(loss)(params)
        updates, opt_state = tx.update(grad, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    state = AgentState(prior["params"], tx.init(prior["params"]), 0)
    rounds: list[Round] = []
    while (steps is None or state.step < steps) and oracle.remaining > 0:
        x = sample(state.params, jax.random.fold_in(key, state.step))
        smiles = mrun.smiles(np.asarray(x))
        scores = oracle(smiles)
        params, opt_state, _ = update(state.params, state.opt_state, x,
                                      jnp.asarray(reward(scores), jnp.float32))
        state = AgentState(params, opt_state, state.step + 1)
        rounds.append(Round(smiles, scores, oracle.calls))
        if report:
            report(rounds[-1])
    return rounds, state
