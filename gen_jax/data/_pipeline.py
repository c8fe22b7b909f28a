"""Host input pipeline: deterministic shuffled batches, split across processes, prefetched.

The stream is a pure function of ``(seed, epoch, batch)``: epoch ``e`` visits the examples in the
order ``np.random.default_rng([seed, e]).permutation(N)``, cut into ``N // global_batch_size``
batches (the remainder is dropped). Process ``p`` of ``P`` gets rows ``[p*B/P, (p+1)*B/P)`` of
each global batch, so the processes together see exactly what a single process would. The
position of the next batch the consumer will receive is ``loader.state``; a loader created with
(or restored to) that state continues the very same stream.

Semi-supervised streams (``labelled_per_batch=L``): the examples labelled ``-1`` are the
unlabelled pool, the others the labelled pool. Epochs are passes over the unlabelled pool as
above, ``B - L`` examples per batch; the labelled examples come from an endless stream of their
own, the concatenation of the permutations ``np.random.default_rng([seed, k, 1])
.permutation(N_labelled)`` for ``k = 0, 1, ...``, of which global step ``s`` (counted from the
start of epoch 0) takes positions ``[s*L, (s+1)*L)``. The labelled examples are spread evenly
through the global batch, at rows ``(i * B) // L`` for ``i < L``, so that ``D`` equal shards of
it (devices, processes) hold ``L / D`` each when ``D`` divides ``L``.

Translation pairs (a dataset with a ``target``, :class:`ArrayDataset`): each batch also carries
the target domain's examples as ``"y"`` (labels as ``"y_label"``). Paired data
(``info.paired``) take the target rows of the very same indices as the source rows. Unpaired
data draw them from an independent stream, epochs of the target's own permutations
``np.random.default_rng([seed, e, 2]).permutation(N_target)``: global step ``s`` (counted from
the start of epoch 0 of the source) takes the target's batch ``s mod (N_target // B)`` of
epoch ``s // (N_target // B)``. Either way the position in the source's epochs says everything.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ._errors import DataError
from ._types import ArrayDataset

Batch = dict[str, np.ndarray]

_POLL_SECONDS = 0.05
_JOIN_SECONDS = 10.0


class _Batcher:
    """Builds the local batch at a position; caches the current epoch's order."""

    def __init__(
        self,
        x: np.ndarray,
        label: np.ndarray | None,
        global_batch_size: int,
        local_slice: slice,
        seed: int,
        shuffle: bool,
        stream: int = 0,
    ):
        self._x, self._label = x, label
        self._global_batch_size, self._local_slice = global_batch_size, local_slice
        self._seed, self._shuffle, self._stream_id = seed, shuffle, stream
        self._epoch, self._order = -1, np.empty(0, np.int64)
        self._pool: np.ndarray | None = None  # the rows epochs visit (None: all)

    def order(self, epoch: int) -> np.ndarray:
        """The visiting order of epoch ``epoch``: ``[N]`` indices (of the pool's rows)."""
        if epoch != self._epoch:
            n = len(self._x) if self._pool is None else len(self._pool)
            order = (
                np.random.default_rng([self._seed, epoch, self._stream_id]).permutation(n)
                if self._shuffle
                else np.arange(n)
            )
            self._order = order if self._pool is None else self._pool[order]
            self._epoch = epoch
        return self._order

    def rows(self, epoch: int, batch: int) -> np.ndarray:
        """The dataset rows of the global batch at ``(epoch, batch)``."""
        start = batch * self._global_batch_size
        return self.order(epoch)[start : start + self._global_batch_size]

    def __call__(self, epoch: int, batch: int) -> Batch:
        index = self.rows(epoch, batch)[self._local_slice]
        out = {"x": self._x[index]}
        if self._label is not None:
            out["label"] = self._label[index]
        return out


class _MixedBatcher(_Batcher):
    """A semi-supervised batcher: ``labelled`` rows from the labelled pool's endless stream,
    spread through the batch, the others unlabelled rows in epochs (the module's docstring)."""

    def __init__(self, x, label, global_batch_size, local_slice, seed, shuffle, labelled):
        super().__init__(x, label, global_batch_size - labelled, local_slice, seed, shuffle)
        self._pool = np.flatnonzero(label < 0)  # epochs visit the unlabelled examples
        self._labelled_rows = np.flatnonzero(label >= 0)
        self._labelled, self._global = labelled, global_batch_size
        self._stream_pass, self._stream_order = -1, np.empty(0, np.int64)
        self._steps_per_epoch = len(self._pool) // (global_batch_size - labelled)
        self._spread = np.zeros(global_batch_size, bool)
        self._spread[labelled_positions(labelled, global_batch_size)] = True

    def _stream(self, k: int) -> np.ndarray:
        """The ``k``-th pass over the labelled pool."""
        if k != self._stream_pass:
            n = len(self._labelled_rows)
            # [seed, k, 1]: never the generator of an epoch's [seed, e] (= [seed, e, 0])
            order = (np.random.default_rng([self._seed, k, 1]).permutation(n)
                     if self._shuffle else np.arange(n))
            self._stream_order, self._stream_pass = self._labelled_rows[order], k
        return self._stream_order

    def rows(self, epoch: int, batch: int) -> np.ndarray:
        n = len(self._labelled_rows)
        first = (epoch * self._steps_per_epoch + batch) * self._labelled
        labelled = np.empty(self._labelled, np.int64)
        for i, position in enumerate(range(first, first + self._labelled)):
            labelled[i] = self._stream(position // n)[position % n]
        out = np.empty(self._global, np.int64)
        out[self._spread], out[~self._spread] = labelled, super().rows(epoch, batch)
        return out


class _PairBatcher:
    """A translation pair's batcher: the source's batch (``source``) with the target domain's
    examples as ``"y"``/``"y_label"``, the same rows (paired) or from their own stream (the
    module's docstring)."""

    def __init__(self, source: _Batcher, target: ArrayDataset, paired: bool,
                 steps_per_epoch: int):
        self._source, self._target, self._paired = source, target, paired
        self._steps_per_epoch = steps_per_epoch
        s = source
        self._target_batcher = _Batcher(target.x, target.label, s._global_batch_size,
                                        s._local_slice, s._seed, s._shuffle, stream=2)
        self._target_steps = len(target) // s._global_batch_size

    def __call__(self, epoch: int, batch: int) -> Batch:
        out = self._source(epoch, batch)
        if self._paired:
            index = self._source.rows(epoch, batch)[self._source._local_slice]
            y = {"x": self._target.x[index]}
            if self._target.label is not None:
                y["label"] = self._target.label[index]
        else:
            step = epoch * self._steps_per_epoch + batch
            y = self._target_batcher(*divmod(step, self._target_steps))
        out["y"] = y["x"]
        if "label" in y:
            out["y_label"] = y["label"]
        return out


def labelled_positions(labelled: int, batch_size: int) -> np.ndarray:
    """The rows of a semi-supervised global batch that hold its labelled examples:
    ``(i * batch_size) // labelled`` for ``i < labelled``, spread evenly."""
    return (np.arange(labelled) * batch_size) // labelled


class _Failure:
    """Carries an exception from the prefetch thread to the consumer."""

    def __init__(self, error: BaseException):
        self.error = error


def _produce(
    make: Callable[[int, int], Any],
    start: tuple[int, int],
    steps_per_epoch: int,
    out: queue.Queue,
    stop: threading.Event,
) -> None:
    """Prefetch thread body: puts ``(next_position, batch)`` items until ``stop`` is set."""
    epoch, batch = start
    try:
        while not stop.is_set():
            item = make(epoch, batch)
            batch += 1
            if batch == steps_per_epoch:
                epoch, batch = epoch + 1, 0
            _put(out, ((epoch, batch), item), stop)
    except BaseException as e:  # noqa: BLE001 -- re-raised in the consumer thread
        _put(out, _Failure(e), stop)


def _put(out: queue.Queue, item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            out.put(item, timeout=_POLL_SECONDS)
            return
        except queue.Full:
            continue


def _shutdown(stop: threading.Event, thread: threading.Thread) -> None:
    """Stops a prefetch thread; run by ``weakref.finalize`` at collection or interpreter exit."""
    stop.set()
    if thread is not threading.current_thread():
        thread.join(_JOIN_SECONDS)


class Loader(Iterator[Batch]):
    """Endless, checkpointable, prefetching iterator over batches of an :class:`ArrayDataset`.

    Yields ``{"x": [B/P, *shape], "label": [B/P]}`` numpy dicts (no ``"label"`` for unlabelled
    data; a translation pair's target examples too, as ``"y"`` and ``"y_label"``), or
    whatever ``put`` returns for such a dict. Use as a context manager or call
    :meth:`close`; the prefetch thread is a daemon and is also stopped when the loader is
    garbage-collected or the interpreter exits.

    Args:
      dataset: the split to iterate over (with a ``target``: a translation pair, see the
        module's docstring).
      global_batch_size: batch size summed over all processes (``B``).
      seed: seed of the per-epoch permutations; must be the same on every process.
      shuffle: permute each epoch; if False every epoch is in dataset order.
      process_index: this process's index ``p`` (``jax.process_index()``).
      process_count: number of processes ``P`` (``jax.process_count()``); must divide ``B``.
      put: optional callable applied to each host batch in the prefetch thread, e.g. to place it
        on devices with the step's input sharding.
      prefetch: number of batches prepared ahead in a background thread; 0 builds each batch on
        demand in the calling thread.
      state: a :attr:`state` to start from; default the beginning of epoch 0.
      labelled_per_batch: semi-supervised batches: this many of each global batch's ``B``
        examples come from the labelled pool (labels ``>= 0``), the rest from the unlabelled
        pool (label ``-1``); see the module's docstring. None: plain batches.

    Raises:
      DataError: ``B`` not divisible by ``P``, ``B`` larger than the dataset, or another bad
        argument.
    """

    def __init__(
        self,
        dataset: ArrayDataset,
        global_batch_size: int,
        *,
        seed: int,
        shuffle: bool = True,
        process_index: int = 0,
        process_count: int = 1,
        put: Callable[[Batch], Any] | None = None,
        prefetch: int = 2,
        state: Mapping[str, int] | None = None,
        labelled_per_batch: int | None = None,
    ):
        n, name = len(dataset), f"{dataset.info.name}/{dataset.split}"
        if dataset.target is not None:
            _check_pair(dataset, global_batch_size, labelled_per_batch, name)
        if labelled_per_batch is not None:
            n = _check_mixed(dataset, global_batch_size, labelled_per_batch, name)
        if global_batch_size <= 0:
            raise DataError(f"global_batch_size={global_batch_size}: pass a positive batch size")
        if process_count <= 0 or not 0 <= process_index < process_count:
            raise DataError(
                f"process_index={process_index}, process_count={process_count}: need "
                "0 <= process_index < process_count (use jax.process_index(), jax.process_count())"
            )
        if global_batch_size % process_count:
            raise DataError(
                f"global_batch_size={global_batch_size} is not divisible by "
                f"process_count={process_count}: use a multiple of {process_count}"
            )
        if global_batch_size > n and labelled_per_batch is None:
            raise DataError(
                f"global_batch_size={global_batch_size} is larger than {name} ({n} examples): "
                f"use at most {n}"
            )
        if not isinstance(seed, int | np.integer) or seed < 0:
            raise DataError(f"seed={seed!r}: pass a non-negative integer")
        if prefetch < 0:
            raise DataError(f"prefetch={prefetch}: pass 0 (no thread) or a positive queue size")
        local = global_batch_size // process_count
        self._batcher_args = (
            dataset.x,
            dataset.label,
            global_batch_size,
            slice(process_index * local, (process_index + 1) * local),
            seed,
            shuffle,
        )
        self._labelled_per_batch = labelled_per_batch
        self._target = dataset.target
        self._paired = dataset.info.paired
        self._steps_per_epoch = n // (global_batch_size - (labelled_per_batch or 0))
        self._put = put
        self._prefetch = prefetch
        self._position = (0, 0)
        self._batcher: _Batcher | None = None  # used when prefetch == 0
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._finalizer: weakref.finalize | None = None
        self._closed = False
        if state is not None:
            self.restore(state)

    @property
    def steps_per_epoch(self) -> int:
        """Number of batches in an epoch: ``N // global_batch_size`` (semi-supervised:
        ``N_unlabelled // (B - labelled_per_batch)``)."""
        return self._steps_per_epoch

    @property
    def state(self) -> dict[str, int]:
        """Position of the next batch :meth:`__next__` will return: ``{"epoch", "batch"}``."""
        epoch, batch = self._position
        return {"epoch": epoch, "batch": batch}

    def restore(self, state: Mapping[str, int]) -> None:
        """Moves to a position saved from :attr:`state`; the next batch is the one at that position.

        Args:
          state: ``{"epoch": e, "batch": b}`` with ``e >= 0`` and ``0 <= b < steps_per_epoch``.

        Raises:
          DataError: malformed or out-of-range state.
        """
        try:
            epoch, batch = int(state["epoch"]), int(state["batch"])
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(
                f"loader state {state!r} is malformed: pass a dict from loader.state"
            ) from e
        if epoch < 0 or not 0 <= batch < self._steps_per_epoch:
            raise DataError(
                f"loader state {state!r} is out of range: need epoch >= 0 and "
                f"0 <= batch < {self._steps_per_epoch} (batches per epoch); was it saved with "
                "another dataset or batch size?"
            )
        self._stop_thread()
        self._position = (epoch, batch)

    def __iter__(self) -> Loader:
        return self

    def __next__(self) -> Any:
        if self._closed:
            raise StopIteration
        if self._prefetch == 0:
            return self._next_inline()
        if self._thread is None:
            self._start_thread()
        while True:
            try:
                item = self._queue.get(timeout=1.0)
                break
            except queue.Empty:
                if not self._thread.is_alive():
                    raise RuntimeError(
                        "the loader's prefetch thread stopped unexpectedly"
                    ) from None
        if isinstance(item, _Failure):
            self._stop_thread()
            raise item.error
        self._position, batch = item
        return batch

    def _next_inline(self) -> Any:
        if self._batcher is None:
            self._batcher = self._make_batcher()
        epoch, batch = self._position
        out = self._batcher(epoch, batch)
        if self._put is not None:
            out = self._put(out)
        batch += 1
        self._position = (epoch + 1, 0) if batch == self._steps_per_epoch else (epoch, batch)
        return out

    def _make_batcher(self) -> _Batcher | _PairBatcher:
        if self._labelled_per_batch is not None:
            return _MixedBatcher(*self._batcher_args, self._labelled_per_batch)
        batcher = _Batcher(*self._batcher_args)
        if self._target is None:
            return batcher
        return _PairBatcher(batcher, self._target, self._paired, self._steps_per_epoch)

    def _start_thread(self) -> None:
        batcher, put = self._make_batcher(), self._put
        make = batcher if put is None else (lambda e, b: put(batcher(e, b)))
        self._queue = queue.Queue(maxsize=self._prefetch)
        stop = threading.Event()
        self._thread = threading.Thread(
            target=_produce,
            args=(make, self._position, self._steps_per_epoch, self._queue, stop),
            name="gen_jax-loader",
            daemon=True,
        )
        self._finalizer = weakref.finalize(self, _shutdown, stop, self._thread)
        self._thread.start()

    def _stop_thread(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # sets the stop event and joins; runs at most once
        self._finalizer = self._thread = self._queue = None

    def close(self) -> None:
        """Stops the prefetch thread; the loader then ends iteration."""
        self._stop_thread()
        self._closed = True

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check_pair(dataset: ArrayDataset, global_batch_size: int, labelled: int | None,
                name: str) -> None:
    """Checks a translation pair's loader arguments."""
    target = dataset.target
    if labelled is not None:
        raise DataError(f"{name} is a translation pair: semi-supervised batches "
                        "(labelled_per_batch) are not supported with a target domain")
    if dataset.info.paired and len(target) != len(dataset):
        raise DataError(f"{name} is paired with {target.info.name}/{target.split}, but they "
                        f"hold {len(dataset)} and {len(target)} examples: paired domains "
                        "correspond row for row")
    if global_batch_size > len(target):
        raise DataError(f"global_batch_size={global_batch_size} is larger than the target "
                        f"domain {target.info.name}/{target.split} ({len(target)} examples): "
                        f"use at most {len(target)}")


def _check_mixed(dataset: ArrayDataset, global_batch_size: int, labelled: int,
                 name: str) -> int:
    """Checks a semi-supervised loader's arguments; returns the unlabelled pool's size."""
    if dataset.label is None:
        raise DataError(f"labelled_per_batch={labelled}, but {name} has no labels: mark the "
                        "unlabelled examples with label -1")
    num_labelled = int(np.sum(dataset.label >= 0))
    num_unlabelled = len(dataset) - num_labelled
    if not 0 < labelled < global_batch_size:
        raise DataError(f"labelled_per_batch={labelled}: need 0 < labelled_per_batch < "
                        f"global_batch_size ({global_batch_size})")
    if not num_labelled or not num_unlabelled:
        raise DataError(f"{name} has {num_labelled} labelled and {num_unlabelled} unlabelled "
                        "(label -1) examples: semi-supervised batches need some of each")
    if global_batch_size - labelled > num_unlabelled:
        raise DataError(f"{global_batch_size - labelled} unlabelled examples per batch, but "
                        f"{name} has {num_unlabelled}: use a smaller batch")
    return num_unlabelled
