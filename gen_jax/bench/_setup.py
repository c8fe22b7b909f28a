"""What every training workload builds: a registry model with its production step and state."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from ..config import DataConfig, OptimConfig
from ..data import DatasetInfo
from ..models import OwnUpdate, build
from ..train import JitStrategy, TrainState, make_optimizer, make_preprocess, make_train_step


@dataclasses.dataclass
class Setup:
    """A model's production pieces: placed state and batch, and the compiled (not yet called)
    train step."""

    model: Any
    state: Any
    batch: dict[str, jax.Array]
    step: Any
    strategy: JitStrategy


def production_setup(family: str, cfg: Any, info: DatasetInfo, host_x: np.ndarray,
                     optim: OptimConfig, seed: int = 0, devices: list | None = None) -> Setup:
    """``family`` from the registry with the step ``gen-jax train`` runs: the same preprocessing
    (default data settings), optimizer (the family's own when it has one, as GANs do), train
    step (:func:`gen_jax.train.make_train_step`) and ``JitStrategy.compile`` over ``devices``
    (default: every device; the batch is split across them)."""
    model = build(family, cfg, info)
    preprocess = make_preprocess(info, DataConfig(name=info.name), model)
    strategy = JitStrategy(devices)
    key = jax.random.PRNGKey(seed)
    variables = model.init(key, preprocess({"x": host_x[: min(len(host_x), 256)]}, key))
    tx = (model.make_optimizer if isinstance(model, OwnUpdate) else make_optimizer)(optim, 1)
    state = strategy.place_state(TrainState.create(
        params=variables["params"], batch_stats=variables.get("batch_stats"), tx=tx, rng=key))
    batch = strategy.place_batch({"x": host_x})
    step = strategy.compile(make_train_step(model, preprocess), state)
    return Setup(model, state, batch, step, strategy)


def mlp_flops(sizes: list[int], batch: int) -> float:
    """Matmul FLOPs of one forward pass of an MLP with layer ``sizes`` on ``batch`` rows."""
    return float(sum(2 * batch * a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)))
