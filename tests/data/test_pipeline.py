"""Loader: epoch permutations, determinism, resumption, process slicing, prefetch and shutdown."""

from __future__ import annotations

import gc
import itertools
import pathlib
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from gen_jax import data

N = 103  # with batch 10: 10 batches per epoch, 3 examples dropped


def _dataset(n: int = N, labels: bool = True) -> data.ArrayDataset:
    """Examples whose value is their index, so that batches show which rows they hold."""
    info = data.DatasetInfo("ids", (1,), 7 if labels else 0, None, {"train": n})
    ids = np.arange(n, dtype=np.float32)[:, None]
    return data.ArrayDataset(
        info, "train", ids, (np.arange(n) % 7).astype(np.int32) if labels else None
    )


def _ids(batch) -> list[int]:
    return batch["x"][:, 0].astype(int).tolist()


def _take(loader, count: int) -> list[list[int]]:
    return [_ids(b) for b in itertools.islice(loader, count)]


def test_each_epoch_is_a_permutation_in_the_documented_order():
    with data.Loader(_dataset(), 10, seed=5) as loader:
        assert loader.steps_per_epoch == 10
        epochs = [sum(_take(loader, 10), []) for _ in range(3)]
    for e, ids in enumerate(epochs):
        assert len(ids) == 100 and len(set(ids)) == 100 and set(ids) <= set(range(N))
        assert ids == np.random.default_rng([5, e]).permutation(N)[:100].tolist()
    assert epochs[0] != epochs[1] != epochs[2]


def test_labels_follow_their_examples_and_are_omitted_when_absent():
    with data.Loader(_dataset(), 10, seed=0) as loader:
        batch = next(loader)
    assert batch["x"].shape == (10, 1) and batch["label"].dtype == np.int32
    np.testing.assert_array_equal(batch["label"], batch["x"][:, 0].astype(int) % 7)
    with data.Loader(_dataset(labels=False), 10, seed=0) as loader:
        assert set(next(loader)) == {"x"}


def test_same_seed_same_stream_other_seed_other_stream():
    def stream(seed):
        with data.Loader(_dataset(), 10, seed=seed) as loader:
            return _take(loader, 25)

    assert stream(1) == stream(1)
    assert stream(1) != stream(2)


def test_no_shuffle_is_dataset_order():
    with data.Loader(_dataset(), 10, seed=0, shuffle=False) as loader:
        ids = sum(_take(loader, 12), [])
    assert ids == list(range(100)) + list(range(20))


def test_resume_mid_epoch_equals_uninterrupted_stream():
    with data.Loader(_dataset(), 10, seed=3, prefetch=4) as loader:
        reference = _take(loader, 37)
    with data.Loader(_dataset(), 10, seed=3, prefetch=4) as loader:
        first = _take(loader, 23)
        time.sleep(0.05)  # let the prefetch thread run ahead of the consumer
        state = loader.state
    assert state == {"epoch": 2, "batch": 3}  # the consumer's position, not the thread's
    assert first == reference[:23]
    with data.Loader(_dataset(), 10, seed=3, state=state) as resumed:
        assert _take(resumed, 14) == reference[23:]


def test_restore_rewinds_a_running_loader():
    with data.Loader(_dataset(), 10, seed=3, prefetch=3) as loader:
        reference = _take(loader, 15)
        loader.restore({"epoch": 0, "batch": 8})
        assert loader.state == {"epoch": 0, "batch": 8}
        assert _take(loader, 7) == reference[8:15]
        assert loader.state == {"epoch": 1, "batch": 5}


def test_prefetch_and_inline_give_the_same_stream():
    with data.Loader(_dataset(), 10, seed=9, prefetch=0) as inline:
        a = _take(inline, 15)
        assert inline.state == {"epoch": 1, "batch": 5}
    with data.Loader(_dataset(), 10, seed=9, prefetch=3) as threaded:
        assert _take(threaded, 15) == a


@pytest.mark.parametrize("process_count", [2, 5])
def test_process_slices_concatenate_to_the_global_batch(process_count):
    with data.Loader(_dataset(), 10, seed=4) as single:
        reference = _take(single, 23)
    parts = []
    for p in range(process_count):
        with data.Loader(
            _dataset(), 10, seed=4, process_index=p, process_count=process_count
        ) as lo:
            parts.append(_take(lo, 23))
    for step in range(23):
        assert sum((part[step] for part in parts), []) == reference[step]
        assert all(len(part[step]) == 10 // process_count for part in parts)


def test_put_runs_in_the_prefetch_thread():
    threads = set()

    def put(batch):
        threads.add(threading.current_thread().name)
        return {k: v * 2 for k, v in batch.items()}

    with data.Loader(_dataset(), 10, seed=0, put=put) as loader:
        batch = next(loader)
    assert threads == {"gen_jax-loader"}
    np.testing.assert_array_equal(batch["label"], (batch["x"][:, 0] / 2).astype(int) % 7 * 2)


def test_errors_in_put_reach_the_consumer():
    def put(batch):
        raise KeyError("device placement failed")

    with data.Loader(_dataset(), 10, seed=0, put=put) as loader:
        with pytest.raises(KeyError, match="device placement failed"):
            next(loader)


def _loader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "gen_jax-loader"]


def test_close_stops_the_thread_and_ends_iteration():
    loader = data.Loader(_dataset(), 10, seed=0, prefetch=2)
    next(loader)
    assert len(_loader_threads()) == 1
    loader.close()
    assert not _loader_threads()
    with pytest.raises(StopIteration):
        next(loader)
    with data.Loader(_dataset(), 10, seed=0) as loader:
        next(loader)
    assert not _loader_threads()


def test_dropped_loader_stops_its_thread():
    loader = data.Loader(_dataset(), 10, seed=0, prefetch=2)
    next(loader)
    assert len(_loader_threads()) == 1
    del loader
    gc.collect()
    assert not _loader_threads()


def test_no_hang_at_interpreter_exit():
    code = (
        "import jax\n"
        "from gen_jax import data\n"
        "ds = data.load('ring8', 'train', size=1000)\n"
        "loader = data.Loader(ds, 100, seed=0, prefetch=2, put=jax.device_put)\n"
        "next(loader)\n"
        "print('ok')\n"  # exits with the thread alive and blocked on a full queue
    )
    repo_root = pathlib.Path(__file__).resolve().parents[2]  # so that `gen_jax` imports
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=repo_root
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(global_batch_size=10, process_count=3), "not divisible by process_count=3"),
        (dict(global_batch_size=200), "larger than ids/train \\(103 examples\\)"),
        (dict(global_batch_size=0), "positive batch size"),
        (dict(global_batch_size=10, process_index=2, process_count=2), "process_index"),
        (dict(global_batch_size=10, state={"epoch": 0, "batch": 10}), "out of range"),
        (dict(global_batch_size=10, state={"epoch": 0}), "malformed"),
        (dict(global_batch_size=10, prefetch=-1), "prefetch=-1"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(data.DataError, match=message) as error:
        data.Loader(_dataset(), seed=0, **kwargs)
    assert "\n" not in str(error.value)


def test_bad_seed():
    with pytest.raises(data.DataError, match="non-negative integer"):
        data.Loader(_dataset(), 10, seed=-1)


def _semi(n: int = N, labelled: int = 7) -> data.ArrayDataset:
    """``labelled`` examples with labels (ids 0, 15, 30, ...), the rest labelled -1."""
    ds = _dataset(n)
    label = np.full(n, -1, np.int32)
    label[::15][:labelled] = np.arange(labelled) % 7
    return data.ArrayDataset(ds.info, "train", ds.x, label)


def test_semi_supervised_batches_hold_their_share_of_each_pool_in_the_documented_order():
    ds = _semi()
    pool = np.flatnonzero(ds.label >= 0)
    with data.Loader(ds, 10, seed=2, labelled_per_batch=3) as loader:
        assert loader.steps_per_epoch == (N - 7) // 7
        batches = list(itertools.islice(loader, 2 * loader.steps_per_epoch + 1))
    spread = np.zeros(10, bool)
    spread[[0, 3, 6]] = True  # rows (i * 10) // 3: spread through the batch
    assert all((b["label"][spread] >= 0).all() and (b["label"][~spread] == -1).all()
               for b in batches)
    labelled = [b["x"][spread, 0].astype(int) for b in batches]
    unlabelled = [b["x"][~spread, 0].astype(int) for b in batches]
    # The labelled stream: consecutive passes over the pool, each a permutation of its own.
    stream = np.concatenate(labelled)
    expected = np.concatenate([pool[np.random.default_rng([2, k, 1]).permutation(7)]
                               for k in range(len(stream) // 7 + 1)])
    np.testing.assert_array_equal(stream, expected[:len(stream)])
    # An epoch visits the unlabelled pool once, in its epoch's permutation.
    first = np.concatenate(unlabelled[:13])
    rest = np.setdiff1d(np.arange(N), pool)
    np.testing.assert_array_equal(first, rest[np.random.default_rng([2, 0]).permutation(96)][:91])
    # Equal shards of a batch hold equal shares of the labelled examples.
    assert np.bincount(data.labelled_positions(4, 16) // 8).tolist() == [2, 2]


def test_a_semi_supervised_stream_resumes_and_splits_over_processes():
    with data.Loader(_semi(), 10, seed=4, labelled_per_batch=2) as loader:
        reference = _take(loader, 30)
    with data.Loader(_semi(), 10, seed=4, labelled_per_batch=2,
                     state={"epoch": 1, "batch": 4}) as resumed:
        assert _take(resumed, 30 - 16) == reference[16:]
    parts = []
    for p in range(2):
        with data.Loader(_semi(), 10, seed=4, labelled_per_batch=2, process_index=p,
                         process_count=2) as lo:
            parts.append(_take(lo, 30))
    assert [a + b for a, b in zip(*parts, strict=True)] == reference


@pytest.mark.parametrize(("dataset", "labelled", "message"), [
    (_semi(), 10, "need 0 < labelled_per_batch < global_batch_size"),
    (_semi(labelled=0), 2, "0 labelled and 103 unlabelled"),
    (_dataset(labels=False), 2, "has no labels: mark the unlabelled examples with label -1"),
    (_semi(n=9, labelled=1), 1, "9 unlabelled examples per batch, but ids/train has 8"),
])
def test_bad_semi_supervised_arguments(dataset, labelled, message):
    with pytest.raises(data.DataError, match=message):
        data.Loader(dataset, 10, seed=0, labelled_per_batch=labelled)


def _pair(paired: bool, n_target: int = N) -> data.ArrayDataset:
    """A translation pair: the target's value is 1000 + its index (its counterpart's, when
    paired)."""
    source = _dataset()
    tinfo = data.DatasetInfo("tids", (1,), 7, None, {"train": n_target})
    values = 1000 + np.arange(n_target, dtype=np.float32)[:, None]
    target = data.ArrayDataset(tinfo, "train", values, (np.arange(n_target) % 7).astype(np.int32))
    info = data.DatasetInfo("ids", (1,), 7, None, {"train": N}, target=tinfo, paired=paired)
    return data.ArrayDataset(info, "train", source.x, source.label, target)


def test_paired_batches_carry_each_examples_counterpart():
    with data.Loader(_pair(True), 10, seed=5, prefetch=0) as loader:
        for batch in itertools.islice(loader, 25):  # across epochs
            np.testing.assert_array_equal(batch["y"], batch["x"] + 1000)
            np.testing.assert_array_equal(batch["y_label"], batch["label"])


def test_unpaired_targets_follow_their_own_documented_stream_and_resume():
    ds = _pair(False, n_target=37)  # 3 target batches of 10 per target epoch
    with data.Loader(ds, 10, seed=5, prefetch=0) as loader:
        batches = list(itertools.islice(loader, 14))
    for step, batch in enumerate(batches):
        epoch, b = divmod(step, 3)
        order = np.random.default_rng([5, epoch, 2]).permutation(37)
        assert (batch["y"][:, 0] - 1000).astype(int).tolist() == order[b * 10:(b + 1) * 10].tolist()
    # the source's stream is the plain one
    with data.Loader(_dataset(), 10, seed=5, prefetch=0) as plain:
        assert [_ids(b) for b in batches] == _take(plain, 14)
    # resuming at step 12 (epoch 1, batch 2 of the source) continues both streams
    with data.Loader(ds, 10, seed=5, state={"epoch": 1, "batch": 2}) as resumed:
        again = list(itertools.islice(resumed, 2))
    for a, b in zip(again, batches[12:], strict=True):
        np.testing.assert_array_equal(a["y"], b["y"])
    # two processes' slices concatenate to the global batch
    with data.Loader(ds, 10, seed=5, process_index=0, process_count=2, prefetch=0) as p0, \
            data.Loader(ds, 10, seed=5, process_index=1, process_count=2, prefetch=0) as p1:
        for a, b, whole in zip(p0, p1, batches[:4], strict=False):
            np.testing.assert_array_equal(np.concatenate([a["y"], b["y"]]), whole["y"])


@pytest.mark.parametrize(("dataset", "kwargs", "message"), [
    (_pair(True, n_target=50), {}, "correspond row for row"),
    (_pair(False, n_target=5), {}, "larger than the target domain"),
    (_pair(False), {"labelled_per_batch": 2}, "translation pair"),
])
def test_bad_translation_pairs(dataset, kwargs, message):
    with pytest.raises(data.DataError, match=message):
        data.Loader(dataset, 10, seed=0, **kwargs)
    with pytest.raises(data.DataError, match="translation pair"):
        data.PoissonLoader(_pair(False), 10, seed=0)
