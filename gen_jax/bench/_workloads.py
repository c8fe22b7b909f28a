"""The standard workloads of BENCHMARKS.md, built from the production models and steps.

Each workload returns a ``Workload``: a ``call(carry) -> carry`` that runs one production step
(the same ``make_train_step`` + ``JitStrategy.compile`` that ``gen-jax train`` runs), its initial
carry with inputs already on device, and the matmul FLOPs of one call for the efficiency ratio.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from ..config import OptimConfig
from ..data import DatasetInfo
from ..models import VAEConfig, build
from ..train import JitStrategy, TrainState, make_optimizer, make_preprocess, make_train_step


@dataclasses.dataclass
class Workload:
    """One benchmark workload.

    Attributes:
      name: id from BENCHMARKS.md, e.g. ``"W4 vae-mlp-784"``.
      call: ``carry -> carry``, one production step (or one sampling call).
      carry: initial carried value (e.g. the placed train state).
      matmul_flops: matmul FLOPs of one call (forward + backward), for the peak-rate fraction.
      items_per_call: steps (1) or samples per call.
      description: how this maps to the BENCHMARKS.md definition.
    """

    name: str
    call: Callable[[Any], Any]
    carry: Any
    matmul_flops: float
    items_per_call: int = 1
    description: str = ""


def _mlp_flops(sizes: list[int], batch: int) -> float:
    return float(sum(2 * batch * a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)))


def vae_mlp_784(batch_size: int = 128, seed: int = 0) -> Workload:
    """W4: MLP VAE 784-512-512-2x32 / 32-512-512-784, ReLU, Bernoulli, Adam 1e-3, batch 128."""
    info = DatasetInfo(name="w4_binary", shape=(28, 28, 1), num_classes=0, num_levels=2)
    cfg = VAEConfig(arch="mlp", hidden=(512, 512), activation="relu", latent_dim=32,
                    likelihood="bernoulli", objective="elbo", num_samples=1)
    model = build("vae", cfg, info)
    data_cfg = dataclasses.make_dataclass("D", [("binarize", bool, False),
                                                ("dequantize", bool, False)])()
    preprocess = make_preprocess(info, data_cfg)
    rng = np.random.default_rng(seed)
    host_batch = {"x": rng.integers(0, 2, (batch_size, 28, 28, 1), dtype=np.uint8)}
    strategy = JitStrategy()
    key = jax.random.PRNGKey(seed)
    variables = model.init(key, preprocess({"x": host_batch["x"][:2]}, key))
    tx = make_optimizer(OptimConfig(optimizer="adam", learning_rate=1e-3), 1)
    state = strategy.place_state(TrainState.create(params=variables["params"], tx=tx, rng=key))
    batch = strategy.place_batch(host_batch)
    step = strategy.compile(make_train_step(model, preprocess), state)
    # Matmuls: encoder 784-512-512-64, decoder 32-512-512-784; backward ~ 2x forward.
    fwd = _mlp_flops([784, 512, 512, 64], batch_size) + _mlp_flops([32, 512, 512, 784],
                                                                   batch_size)
    return Workload(
        name="W4 vae-mlp-784", call=lambda s: step(s, batch)[0], carry=state,
        matmul_flops=3.0 * fwd, items_per_call=1,
        description="production VAE train step (gen_jax.train.make_train_step under "
                    "JitStrategy); 28x28x1 binary input flattened by the MLP encoder",
    )


WORKLOADS: dict[str, Callable[[], Workload]] = {"w4": vae_mlp_784}
"""Workload id -> constructor."""
