"""orbax checkpoints of the train state and the data position, for exact resume.

Each checkpoint holds two items: ``state`` (the :class:`TrainState` pytree) and ``data`` (the
input pipeline's position as JSON). Saves are asynchronous; a save interrupted by a crash leaves
a temporary folder that orbax ignores, so a restart resumes from the last complete checkpoint.
Every process calls every method (orbax coordinates multi-process writes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orbax.checkpoint as ocp


class Checkpointer:
    """A thin, typed wrapper around ``ocp.CheckpointManager`` for train state + data position."""

    def __init__(self, directory: str | Path, *, max_to_keep: int = 3):
        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
            item_names=("state", "data"),
        )

    def latest_step(self) -> int | None:
        """The step of the newest complete checkpoint, or None when there is none."""
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, step: int, state: Any, data_state: dict[str, Any], *, force: bool = False):
        """Starts an asynchronous save of ``state`` and ``data_state`` at ``step``."""
        self._manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state)
            ),
            force=force,
        )

    def restore(self, abstract_state: Any, step: int | None = None) -> tuple[Any, dict[str, Any]]:
        """Restores ``(state, data_state)`` at ``step`` (default: latest) into the given layout.

        Args:
          abstract_state: a pytree of ``jax.ShapeDtypeStruct`` (with shardings) shaped like the
            saved state; the restored arrays take its shardings.
          step: which checkpoint; the latest when None.
        """
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        out = self._manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore()
            ),
        )
        return out["state"], out["data"]

    def wait(self) -> None:
        """Blocks until pending asynchronous saves are on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
