"""Data parallelism: ``jax.jit`` over a device mesh (default) or ``jax.pmap`` (compatibility).

Both split every global batch over all devices of all processes and keep parameters replicated.
Under ``jit`` the step sees one global batch (XLA inserts the gradient all-reduce); under ``pmap``
the step sees a per-device shard and averages gradients with ``lax.pmean`` over ``"batch"``,
and a GAN's batch norm normalizes over all shards (cross-replica), as jit's global batch does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._step import StepFn

DATA_AXIS = "data"
PMAP_AXIS = "batch"


class JitStrategy:
    """``jax.jit`` with a 1-D ``data`` mesh over every device of every process."""

    name = "jit"
    axis_name = None  # the step needs no explicit collective

    def __init__(self, devices: list[jax.Device] | None = None):
        devices = devices if devices is not None else jax.devices()
        self.mesh = Mesh(np.asarray(devices), (DATA_AXIS,))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.data_sharding = NamedSharding(self.mesh, PartitionSpec(DATA_AXIS))

    @property
    def num_devices(self) -> int:
        return self.mesh.size

    def place_state(self, state: Any) -> Any:
        """Replicates a host (or single-device) pytree on every device of the mesh."""

        def put(x):
            x = np.asarray(x)
            return jax.make_array_from_callback(x.shape, self.replicated, lambda idx: x[idx])

        return jax.tree.map(put, state)

    def place_batch(self, local_batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        """This process's rows of a global batch -> one global array split on ``data``."""
        return {
            k: jax.make_array_from_process_local_data(self.data_sharding, v)
            for k, v in local_batch.items()
        }

    def abstract_state(self, state: Any) -> Any:
        """Shape/dtype/sharding of a replicated ``state``, the target for checkpoint restore."""
        return jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=self.replicated), state
        )

    def compile(self, step: StepFn, state: Any) -> StepFn:
        """``jax.jit`` of a step with replicated state (donated) and a data-split batch."""
        state_sh = jax.tree.map(lambda _: self.replicated, state)
        return jax.jit(
            step,
            in_shardings=(state_sh, self.data_sharding),
            out_shardings=(state_sh, self.replicated),
            donate_argnums=0,
        )

    def compile_mapped(self, fn: Callable, *, in_axes: tuple[int | None, ...]) -> Callable:
        """``fn`` over global arrays (``jax.jit``): ``in_axes`` marks the arguments that pmap
        would map (0) or broadcast (None); under jit every argument is global."""
        del in_axes
        return jax.jit(fn)

    def restored_state(self, restored: Any) -> Any:
        """A state restored onto :meth:`abstract_state`'s shardings is already in place."""
        return restored

    def unreplicated(self, tree: Any) -> Any:
        """Values as a function outside the step takes them: global arrays need nothing."""
        return tree

    def to_host_state(self, state: Any) -> Any:
        """The state as it is checkpointed: the replicated global arrays themselves."""
        return state

    def fetch(self, tree: Any) -> Any:
        """Replicated device values -> host numpy (works across processes)."""
        return jax.tree.map(lambda x: np.asarray(x.addressable_data(0)), tree)


class PmapStrategy:
    """``jax.pmap`` over this process's devices, for code that expects the pmap layout.

    ``jax.pmap`` is in maintenance mode; prefer :class:`JitStrategy`. Single process only.
    """

    name = "pmap"
    axis_name = PMAP_AXIS

    def __init__(self, devices: list[jax.Device] | None = None):
        if jax.process_count() > 1:
            raise ValueError("the pmap strategy runs in a single process; use --train.strategy jit "
                             "for multi-process training")
        self.devices = devices if devices is not None else jax.local_devices()
        mesh = Mesh(np.asarray(self.devices), (PMAP_AXIS,))
        self.sharding = NamedSharding(mesh, PartitionSpec(PMAP_AXIS))

    @property
    def num_devices(self) -> int:
        return len(self.devices)

    def place_state(self, state: Any) -> Any:
        """One replica per device along a new leading axis (the pmap layout)."""
        n = self.num_devices
        return jax.tree.map(
            lambda x: jax.device_put(np.broadcast_to(np.asarray(x), (n, *np.shape(x))),
                                     self.sharding),
            state,
        )

    def place_batch(self, local_batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        """Reshapes ``[B, ...]`` to ``[devices, B / devices, ...]``, one slice per device."""
        n = self.num_devices

        def put(v):
            if v.shape[0] % n:
                raise ValueError(f"batch of {v.shape[0]} does not split over {n} devices; use a "
                                 f"batch size divisible by {n}")
            return jax.device_put(v.reshape(n, v.shape[0] // n, *v.shape[1:]), self.sharding)

        return {k: put(v) for k, v in local_batch.items()}

    def abstract_state(self, state: Any) -> Any:
        return jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype), state)

    def compile(self, step: StepFn, state: Any) -> StepFn:
        del state
        return jax.pmap(step, axis_name=PMAP_AXIS, donate_argnums=0, devices=self.devices)

    def compile_mapped(self, fn: Callable, *, in_axes: tuple[int | None, ...]) -> Callable:
        """``jax.pmap`` of ``fn`` over the devices: arguments with ``in_axes`` 0 are per-device
        (replicated state, batch shards), None broadcast (keys); ``fn`` may use the axis."""
        return jax.pmap(fn, axis_name=PMAP_AXIS, in_axes=in_axes, devices=self.devices)

    def restored_state(self, restored: Any) -> Any:
        """A host state restored from a checkpoint, replicated in the pmap layout."""
        return self.place_state(restored)

    def unreplicated(self, tree: Any) -> Any:
        """The first replica (host numpy), for functions outside the mapped step."""
        return self.fetch(tree)

    def to_host_state(self, state: Any) -> Any:
        """The first replica, which is what gets checkpointed."""
        return self.fetch(state)

    def fetch(self, tree: Any) -> Any:
        """The first replica of each leaf, as host numpy."""
        return jax.tree.map(lambda x: np.asarray(x.addressable_data(0))[0], tree)


def make_strategy(name: str) -> JitStrategy | PmapStrategy:
    """The data-parallel strategy called ``name`` ("jit" or "pmap") over all devices."""
    strategies: dict[str, Callable[[], Any]] = {"jit": JitStrategy, "pmap": PmapStrategy}
    if name not in strategies:
        raise ValueError(f"unknown strategy {name!r}; use jit or pmap")
    return strategies[name]()
