"""The checkpoint wrapper: round trip, and one-line errors for folders it cannot resume from."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.train import CheckpointLayoutError, Checkpointer


def _state(scale=1.0):
    return {"w": jnp.arange(6.0).reshape(2, 3) * scale, "step": jnp.asarray(int(scale))}


def _abstract(tree):
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)


def _saved(directory, steps):
    with Checkpointer(directory) as ckpt:
        for step in steps:
            ckpt.save(step, _state(step), {"epoch": step})
    return directory


def test_restore_returns_the_newest_state_and_data_position(tmp_path):
    with Checkpointer(_saved(tmp_path / "ck", [10, 20])) as ckpt:
        assert ckpt.latest_step() == 20 and ckpt.all_steps() == [10, 20]
        state, data = ckpt.restore(_abstract(_state()))
        older, _ = ckpt.restore(_abstract(_state()), step=10)
    np.testing.assert_array_equal(state["w"], np.arange(6.0).reshape(2, 3) * 20)
    assert data == {"epoch": 20} and int(older["step"]) == 10


def test_an_incomplete_newest_folder_names_the_step_to_resume_from(tmp_path):
    directory = _saved(tmp_path / "ck", [10, 20])
    (directory / "30").mkdir()  # e.g. a copy that stopped before the files arrived
    with Checkpointer(directory) as ckpt, pytest.raises(ValueError) as err:
        ckpt.restore(_abstract(_state()))
    assert str(err.value) == (
        f"{directory / '30'} is not a complete checkpoint (no saved state in it; a copy or save "
        f"that did not finish?): move it out of {directory} to resume from step 20")
    assert not isinstance(err.value, CheckpointLayoutError)
    (directory / "30").rmdir()
    with Checkpointer(directory) as ckpt:  # moved away: resumes from 20
        assert int(ckpt.restore(_abstract(_state()))[0]["step"]) == 20


def test_a_folder_with_half_a_checkpoint_is_incomplete_too(tmp_path):
    directory = _saved(tmp_path / "ck", [10])
    (directory / "10" / "data").rename(tmp_path / "data")  # the state arrived, the data did not
    with Checkpointer(directory) as ckpt, pytest.raises(ValueError, match="to start over$"):
        ckpt.restore(_abstract(_state()))


def test_a_checkpoint_of_another_shape_is_a_layout_error(tmp_path):
    directory = _saved(tmp_path / "ck", [10])
    other = {"w": jnp.zeros((3, 3)), "step": jnp.asarray(0)}
    with Checkpointer(directory) as ckpt, pytest.raises(CheckpointLayoutError) as err:
        ckpt.restore(_abstract(other))
    assert str(err.value) == (
        f"the checkpoint at step 10 in {directory} does not fit this model/optimizer config "
        "(first difference at w: saved (2, 3), expected (3, 3))")
