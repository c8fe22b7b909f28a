"""Poisson-sampled batches, the sampling differentially private training is accounted for."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ._errors import DataError
from ._types import ArrayDataset

Batch = dict[str, np.ndarray]

CAPACITY_SIGMAS = 6.0
"""A batch holds the expected count plus this many of its standard deviations: a larger draw
(probability about 1e-9 per step) keeps its first ``capacity`` examples and is counted."""


class PoissonLoader(Iterator[Batch]):
    """Endless, checkpointable batches in which each training example appears independently
    with probability ``q = expected_batch_size / N`` (Poisson sampling, as DP-SGD's privacy
    accounting assumes), padded to a fixed ``capacity`` so one compiled step serves every
    batch.

    Yields ``{"x": [C/P, *shape], "label": [C/P], "weight": [C/P]}`` (``weight`` 1 for a drawn
    example, 0 for padding; no ``label`` for unlabelled data), or what ``put`` makes of it.
    Step ``t``'s draw depends only on ``(seed, t)``, so a resumed run draws what an
    uninterrupted one would.

    Args:
      dataset: the training split.
      expected_batch_size: ``q * N``.
      seed: same on every process.
      capacity: rows per batch over all processes (default: the expected size plus
        :data:`CAPACITY_SIGMAS` standard deviations, rounded up to a multiple of ``multiple``).
      multiple: the capacity is a multiple of this (the devices the batch is split over).
      process_index: this process's index; it takes its slice of the rows.
      process_count: the number of processes (divides the capacity).
      put: applied to each host batch (e.g. to place it on the devices).

    Raises:
      DataError: a bad size or process setting.
    """

    def __init__(self, dataset: ArrayDataset, expected_batch_size: int, *, seed: int,
                 capacity: int | None = None, multiple: int = 1, process_index: int = 0,
                 process_count: int = 1, put: Callable[[Batch], Any] | None = None):
        n = len(dataset)
        if dataset.target is not None:
            raise DataError(f"{dataset.info.name}/{dataset.split} is a translation pair: "
                            "Poisson-sampled (differentially private) batches take one domain")
        if not 0 < expected_batch_size <= n:
            raise DataError(f"expected batch size {expected_batch_size} must lie in 1..{n} "
                            f"(the examples of {dataset.info.name}/{dataset.split})")
        if process_count <= 0 or not 0 <= process_index < process_count:
            raise DataError(f"process_index={process_index}, process_count={process_count}: "
                            "need 0 <= process_index < process_count")
        step = math.lcm(max(1, multiple), process_count)
        if capacity is None:
            spread = math.sqrt(expected_batch_size * (1 - expected_batch_size / n))
            capacity = min(n, math.ceil(expected_batch_size + CAPACITY_SIGMAS * spread))
        capacity = -(-capacity // step) * step
        self.dataset, self.rate, self.capacity = dataset, expected_batch_size / n, capacity
        self._seed, self._put = seed, put
        local = capacity // process_count
        self._rows = slice(process_index * local, (process_index + 1) * local)
        self._step = 0
        self.truncated = 0
        """Draws larger than the capacity so far (their extra examples were left out)."""

    @property
    def state(self) -> dict[str, int]:
        """The index of the next batch: ``{"step": t}``."""
        return {"step": self._step}

    def restore(self, state: Mapping[str, int]) -> None:
        """Moves to a position saved from :attr:`state`.

        Raises:
          DataError: a state of another loader (an epoch position: the run was trained
            without Poisson sampling).
        """
        try:
            step = int(state["step"])
        except (KeyError, TypeError, ValueError):
            raise DataError(f"loader state {dict(state)!r} is not a Poisson loader's: was the "
                            "run trained without differential privacy?") from None
        if step < 0:
            raise DataError(f"loader state step {step} is negative")
        self._step = step

    def indices(self, step: int) -> np.ndarray:
        """The examples drawn at ``step`` (all of them, before any truncation)."""
        rng = np.random.default_rng([self._seed, step])
        return np.flatnonzero(rng.random(len(self.dataset)) < self.rate)

    def __iter__(self) -> PoissonLoader:
        return self

    def __next__(self) -> Any:
        drawn = self.indices(self._step)
        if len(drawn) > self.capacity:
            self.truncated += 1
            drawn = drawn[:self.capacity]
        rows = np.zeros(self.capacity, np.int64)
        rows[:len(drawn)] = drawn
        weight = np.zeros(self.capacity, np.float32)
        weight[:len(drawn)] = 1.0
        rows, weight = rows[self._rows], weight[self._rows]
        batch = {"x": self.dataset.x[rows], "weight": weight}
        if self.dataset.label is not None:
            batch["label"] = self.dataset.label[rows]
        self._step += 1
        return batch if self._put is None else self._put(batch)

    def close(self) -> None:
        """Nothing to stop (no prefetch thread); for the loader's context-manager protocol."""

    def __enter__(self) -> PoissonLoader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
