"""orbax checkpoints of the train state and the data position, for exact resume.

Each checkpoint holds two items: ``state`` (the :class:`TrainState` pytree) and ``data`` (the
input pipeline's position as JSON). Saves are asynchronous; a save interrupted by a crash leaves
a temporary folder that orbax ignores, so a restart resumes from the last complete checkpoint.
Every process calls every method (orbax coordinates multi-process writes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp


class CheckpointLayoutError(ValueError):
    """A checkpoint's arrays do not fit the model/optimizer it is restored into."""


class Checkpointer:
    """A thin, typed wrapper around ``ocp.CheckpointManager`` for train state + data position."""

    def __init__(self, directory: str | Path, *, max_to_keep: int = 3):
        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
            item_handlers={"state": ocp.StandardCheckpointHandler(),
                           "data": ocp.JsonCheckpointHandler()},
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
        if step not in self.all_steps():
            raise FileNotFoundError(f"no checkpoint at step {step} in {self.directory}; it has "
                                    f"steps {self.all_steps()}")
        saved = self._saved_tree(step)
        if saved is None:
            raise self._unusable(step, "its state or data is missing or unreadable")
        self._check_layout(abstract_state, saved, step)
        try:
            out = self._manager.restore(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore()
                ),
            )
        except (OSError, ValueError) as err:  # e.g. metadata that arrived without its arrays
            lines = str(err).strip().splitlines() or [type(err).__name__]
            raise self._unusable(step, f"reading it failed: {lines[0][:200]}") from err
        return out["state"], out["data"]

    def _saved_tree(self, step: int) -> Any | None:
        """The saved state's metadata tree at ``step``, or None when that folder is incomplete."""
        folder = self.directory / str(step)
        if not (folder / "state").is_dir() or not (folder / "data").is_dir():
            return None
        # Without its array store (OCDBT manifest or zarr folders) the state is not read at all:
        # tensorstore would fail on it, and orbax leaves the other reads' failures unretrieved
        # in its event loop, which prints tracebacks around the one-line error.
        if not ocp.path.format_utils.is_pytree_checkpoint(folder / "state"):
            return None
        try:
            state = dict(self._manager.item_metadata(step)).get("state")
        except (OSError, ValueError):  # e.g. a metadata file cut short
            return None
        return None if state is None else state.tree

    def _unusable(self, step: int, why: str) -> ValueError:
        """A one-line error for a step folder that is not a whole checkpoint, saying what to do.

        orbax writes a checkpoint under a temporary name and renames it when done, so its own
        saves never leave one; a copy or sync that stopped part way, or a folder made by hand,
        can. It is not skipped silently: training from an older step would later collide with
        the folder, and the user may still hold the whole checkpoint elsewhere. The error names
        every step folder above the newest older one that looks whole, so moving them is enough.
        """
        steps = self.all_steps()
        older = [s for s in steps if s < step and self._saved_tree(s) is not None]
        base = max(older) if older else None
        then = f"resume from step {base}" if older else "start over"
        bad = [s for s in steps if (base is None or s > base) and s <= step]
        if bad == [step]:
            return ValueError(f"{self.directory / str(step)} is not a complete checkpoint ({why}; "
                              f"a copy or save that did not finish?): move it out of "
                              f"{self.directory} to {then}")
        return ValueError(f"step folders {', '.join(map(str, bad))} in {self.directory} are not "
                          f"complete checkpoints (step {step}: {why}; a copy or save that did "
                          f"not finish?): move them out of it to {then}")

    def _check_layout(self, abstract_state: Any, saved: Any, step: int) -> None:
        """Raises a one-line CheckpointLayoutError when the saved arrays' names or shapes differ."""
        want, have = _shapes(abstract_state), _shapes(saved)
        if want != have:
            diff = sorted(set(want.items()) ^ set(have.items()))[0][0]
            raise CheckpointLayoutError(
                f"the checkpoint at step {step} in {self.directory} does not fit this "
                f"model/optimizer config (first difference at {'/'.join(diff)}: saved "
                f"{have.get(diff)}, expected {want.get(diff)})")

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


def _shapes(tree: Any) -> dict[tuple[str, ...], tuple[int, ...]]:
    """``{path: shape}`` of a pytree's array leaves, with attribute, key and index names alike."""

    def name(entry) -> str:
        for attr in ("name", "key", "idx"):
            if hasattr(entry, attr):
                return str(getattr(entry, attr))
        return str(entry)

    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {tuple(name(e) for e in path): tuple(leaf.shape) for path, leaf in leaves}
