"""Stopping on SIGTERM, a scheduler's preemption notice: checkpoint the step just done, then stop.

Batch schedulers and preemptible VMs send SIGTERM some seconds before they kill a job. Without a
handler the job dies at once and loses everything since its last periodic checkpoint; with
:class:`StopOnSigterm` the loop finishes the step in flight, saves a checkpoint of it, waits for
the write and raises :class:`Preempted`. Running the same command again resumes from there,
exactly as from a periodic checkpoint.

Single process only: with several processes every one of them would have to stop at the same
step (a checkpoint is a collective write), so there SIGTERM keeps its default action and a
restart resumes from the last periodic checkpoint.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import jax


class Preempted(RuntimeError):
    """Training stopped on SIGTERM after checkpointing ``step``; the same command resumes it."""

    def __init__(self, step: int, directory: str | Path):
        self.step = step
        super().__init__(f"stopped by SIGTERM after step {step}, checkpoint saved in {directory}; "
                         "run the same command again to resume")


class StopOnSigterm:
    """A context manager: while it is open, SIGTERM sets :attr:`requested` instead of killing.

    The handler is installed only in a single-process run and from the main thread (Python
    delivers signals there); a second SIGTERM gets the previous handler back (by default: the
    process ends at once). The previous handler is restored on exit.
    """

    def __init__(self):
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> StopOnSigterm:
        if jax.process_count() == 1 and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
            self._installed = True
        return self

    def _handle(self, signum, frame) -> None:
        del signum, frame
        self.requested = True
        signal.signal(signal.SIGTERM, self._previous)

    def __exit__(self, *exc) -> None:
        if self._installed and signal.getsignal(signal.SIGTERM) == self._handle:
            signal.signal(signal.SIGTERM, self._previous)
        self._installed = False
