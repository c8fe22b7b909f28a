"""The checkpoint wrapper: round trip, and one-line errors for folders it cannot resume from."""

import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.train import Checkpointer, CheckpointLayoutError


def _state(scale=1.0):
    return {"w": jnp.arange(6.0).reshape(2, 3) * scale, "step": jnp.asarray(int(scale))}


def _abstract(tree):
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)


def _saved(directory, steps):
    with Checkpointer(directory) as ckpt:
        for step in steps:
            ckpt.save(step, _state(step), {"epoch": step})
    return directory


def _restore_error(directory):
    with Checkpointer(directory) as ckpt, pytest.raises(ValueError) as err:
        ckpt.restore(_abstract(_state()))
    assert not isinstance(err.value, CheckpointLayoutError)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_restore_returns_the_newest_state_and_data_position(tmp_path):
    with Checkpointer(_saved(tmp_path / "ck", [10, 20])) as ckpt:
        assert ckpt.latest_step() == 20 and ckpt.all_steps() == [10, 20]
        state, data = ckpt.restore(_abstract(_state()))
        older, _ = ckpt.restore(_abstract(_state()), step=10)
        with pytest.raises(FileNotFoundError, match=r"no checkpoint at step 15 .* \[10, 20\]"):
            ckpt.restore(_abstract(_state()), step=15)
    np.testing.assert_array_equal(state["w"], np.arange(6.0).reshape(2, 3) * 20)
    assert data == {"epoch": 20} and int(older["step"]) == 10


def test_an_incomplete_newest_folder_names_the_step_to_resume_from(tmp_path):
    directory = _saved(tmp_path / "ck", [10, 20])
    (directory / "30").mkdir()  # e.g. a copy that stopped before the files arrived
    assert _restore_error(directory) == (
        f"{directory / '30'} is not a complete checkpoint (its state or data is missing or "
        f"unreadable; a copy or save that did not finish?): move it out of {directory} to "
        "resume from step 20")
    (directory / "30").rmdir()
    with Checkpointer(directory) as ckpt:  # moved away: resumes from 20
        assert int(ckpt.restore(_abstract(_state()))[0]["step"]) == 20


@pytest.mark.parametrize("damage", ["no data", "empty items", "cut metadata", "only _METADATA",
                                    "cut data"])
def test_a_partly_copied_checkpoint_is_incomplete_too(tmp_path, damage):
    directory = _saved(tmp_path / "ck", [10, 20])
    state = directory / "20" / "state"
    if damage == "no data":  # the state arrived, the data did not
        shutil.rmtree(directory / "20" / "data")
    elif damage == "empty items":  # the folders arrived, nothing in them
        for item in ("state", "data"):
            shutil.rmtree(directory / "20" / item)
            (directory / "20" / item).mkdir()
    elif damage == "cut metadata":
        text = (state / "_METADATA").read_text()
        (state / "_METADATA").write_text(text[: len(text) // 2])
    elif damage == "only _METADATA":  # an rsync copies it first, the other files after it
        for path in state.iterdir():
            if path.name != "_METADATA":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    else:  # the data position cut short: its item has no metadata, so only reading it fails
        (directory / "20" / "data" / "metadata").write_text('{"ep')
    message = _restore_error(directory)
    assert message.startswith(f"{directory / '20'} is not a complete checkpoint (")
    assert message.endswith(f"move it out of {directory} to resume from step 10")
    assert ("(reading it failed: " in message) == (damage == "cut data")


def test_a_state_without_its_array_store_is_judged_from_its_files(tmp_path, monkeypatch):
    # rsync sends _METADATA before the array store: reading such a state through tensorstore
    # fails in several of orbax's concurrent reads at once, and the ones it does not retrieve
    # print tracebacks around the one-line error, so it must not be read at all.
    import tensorstore

    directory = _saved(tmp_path / "ck", [10, 20])
    for path in (directory / "20" / "state").iterdir():
        if path.name != "_METADATA":
            shutil.rmtree(path) if path.is_dir() else path.unlink()

    def opened(spec, *args, real=tensorstore.open, **kwargs):
        assert str(directory / "20") not in str(spec), "tensorstore opened the incomplete state"
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(tensorstore, "open", opened)
    message = _restore_error(directory)
    assert message.startswith(f"{directory / '20'} is not a complete checkpoint (its state or "
                              "data is missing or unreadable;")
    assert message.endswith("resume from step 10")


def test_every_incomplete_folder_above_the_resume_step_is_named(tmp_path):
    directory = _saved(tmp_path / "ck", [10])
    (directory / "20").mkdir()
    (directory / "30").mkdir()
    assert _restore_error(directory) == (
        f"step folders 20, 30 in {directory} are not complete checkpoints (step 30: its state "
        "or data is missing or unreadable; a copy or save that did not finish?): move them out "
        "of it to resume from step 10")
    shutil.rmtree(directory / "10")
    assert _restore_error(directory).endswith("move them out of it to start over")


def test_a_checkpoint_of_another_shape_is_a_layout_error(tmp_path):
    directory = _saved(tmp_path / "ck", [10])
    other = {"w": jnp.zeros((3, 3)), "step": jnp.asarray(0)}
    with Checkpointer(directory) as ckpt, pytest.raises(CheckpointLayoutError) as err:
        ckpt.restore(_abstract(other))
    assert str(err.value) == (
        f"the checkpoint at step 10 in {directory} does not fit this model/optimizer config "
        "(first difference at w: saved (2, 3), expected (3, 3))")
