"""Reads a run's newest checkpoint back as plain numpy, to compare runs."""

from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp


def latest_state(workdir, step: int | None = None) -> dict:
    """The train state of the latest checkpoint in ``workdir`` (or of ``step``'s), as numpy."""
    root = Path(workdir) / "checkpoints"
    steps = sorted(int(p.name) for p in root.iterdir() if p.name.isdigit())
    assert step is None or step in steps, f"no checkpoint of step {step} in {steps}"
    path = (root / str(steps[-1] if step is None else step) / "state").absolute()
    with ocp.PyTreeCheckpointer() as ckpt:
        meta = ckpt.metadata(path).item_metadata.tree
        args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), meta)
        return ckpt.restore(path, restore_args=args)


def assert_trees_equal(a, b):
    la, lb = jax.tree.leaves_with_path(a), jax.tree.leaves_with_path(b)
    assert [p for p, _ in la] == [p for p, _ in lb]
    for (path, x), (_, y) in zip(la, lb, strict=True):
        np.testing.assert_array_equal(x, y, err_msg=jax.tree_util.keystr(path))


def assert_trees_close(a, b, rtol, atol):
    for (path, x), (_, y) in zip(jax.tree.leaves_with_path(a), jax.tree.leaves_with_path(b),
                                 strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=jax.tree_util.keystr(path))
