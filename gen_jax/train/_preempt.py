"""Stopping on SIGTERM, a scheduler's preemption notice: checkpoint the step just done, then stop.

Batch schedulers and preemptible VMs send SIGTERM some seconds before they kill a job. Without a
handler the job dies at once and loses everything since its last periodic checkpoint; with
:class:`StopOnSigterm` the loop finishes the step in flight, saves a checkpoint of it, waits for
the write and raises :class:`Preempted`. Running the same command again resumes from there,
exactly as from a periodic checkpoint.

With several processes (``jax.distributed``) every one of them has to stop at the same step, as a
checkpoint is a collective write: there JAX's preemption service takes the SIGTERM (of any
process), agrees on the step after the furthest one any process has reached, and
:meth:`StopOnSigterm.should_stop` turns true at that step in every process
(``multihost_utils.reached_preemption_sync_point``, which needs a call at every step).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
from jax.experimental import multihost_utils


class Preempted(RuntimeError):
    """Training stopped on SIGTERM after checkpointing ``step``; the same command resumes it."""

    def __init__(self, step: int, directory: str | Path):
        self.step = step
        super().__init__(f"stopped by SIGTERM after step {step}, checkpoint saved in {directory}; "
                         "run the same command again to resume")


PREEMPTED_EXIT_CODE = 128 + signal.SIGTERM  # what shells report for a job ended by SIGTERM


def exit_code_of(main: Callable[[], int], prog: str) -> int:
    """``main()``'s exit code; a :class:`Preempted` is one line on stderr and exit code 143.

    For command-line entry points: a preempted run is not an error (it is checkpointed and the
    same command resumes it), so it gets no traceback.
    """
    try:
        return main()
    except Preempted as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return PREEMPTED_EXIT_CODE


class StopOnSigterm:
    """A context manager: while it is open, SIGTERM asks the loop to stop instead of killing.

    Single process: a Python handler (installed from the main thread, where Python delivers
    signals) sets :attr:`requested`; a second SIGTERM gets the previous handler back (by
    default: the process ends at once), and the previous handler is restored on exit. Several
    processes: JAX's preemption service handles SIGTERM; see :meth:`should_stop`.
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

    def should_stop(self, step: int) -> bool:
        """Whether to checkpoint ``step`` and stop; call it after every step, in every process."""
        if jax.process_count() > 1:
            return multihost_utils.reached_preemption_sync_point(step)
        return self.requested

    def _handle(self, signum, frame) -> None:
        del signum, frame
        self.requested = True
        signal.signal(signal.SIGTERM, self._previous)

    def __exit__(self, *exc) -> None:
        if self._installed and signal.getsignal(signal.SIGTERM) == self._handle:
            signal.signal(signal.SIGTERM, self._previous)
        self._installed = False
