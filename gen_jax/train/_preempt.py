"""Stopping on SIGTERM (a scheduler's preemption notice) or SIGINT (Ctrl-C): checkpoint the
step just done, then stop.

Batch schedulers and preemptible VMs send SIGTERM some seconds before they kill a job, and a
user stops a run with Ctrl-C. Without a handler the job dies at once and loses everything since
its last periodic checkpoint; with :class:`StopOnSignal` the loop finishes the step in flight,
saves a checkpoint of it, waits for the write and raises :class:`Preempted`. Running the same
command again resumes from there, exactly as from a periodic checkpoint. A second signal of the
same kind acts as it would without the handler (a second Ctrl-C interrupts at once).

With several processes (``jax.distributed``) every one of them has to stop at the same step, as a
checkpoint is a collective write: there JAX's preemption service takes the SIGTERM (of any
process), agrees on the step after the furthest one any process has reached, and
:meth:`StopOnSigterm.should_stop` turns true at that step in every process
(``multihost_utils.reached_preemption_sync_point``, which needs a call at every step).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
from jax.experimental import multihost_utils


class Preempted(RuntimeError):
    """Training stopped on a signal after checkpointing ``step``; the same command resumes it.

    Attributes:
      step: the checkpointed step.
      signum: the signal (SIGTERM or SIGINT).
      exit_code: what shells report for a job ended by that signal: 143 or 130.
    """

    def __init__(self, step: int, directory: str | Path, signum: int = signal.SIGTERM):
        self.step, self.signum = step, signal.Signals(signum)
        self.exit_code = 128 + int(signum)
        super().__init__(f"stopped by {self.signum.name} after step {step}, checkpoint saved in "
                         f"{directory}; run the same command again to resume")


PREEMPTED_EXIT_CODE = 128 + signal.SIGTERM  # what shells report for a job ended by SIGTERM
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""The signals that stop a single-process run cleanly."""


def exit_code_of(main: Callable[[], int], prog: str) -> int:
    """``main()``'s exit code; a :class:`Preempted` is one line on stderr and exit code 143
    (SIGTERM) or 130 (SIGINT).

    For command-line entry points: a preempted run is not an error (it is checkpointed and the
    same command resumes it), so it gets no traceback.
    """
    try:
        return main()
    except Preempted as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return e.exit_code
    except jax.errors.JaxRuntimeError as e:
        if jax.process_count() == 1:
            raise
        lost_peer(prog, e)


LOST_PEER_EXIT_CODE = 75  # EX_TEMPFAIL: the run resumes from its last checkpoint


def lost_peer(prog: str, error: BaseException) -> None:
    """Ends this process of a multi-process run at once, with one line, when a collective
    failed (another process died: its connection was reset).

    Leaving normally would wait in ``jax.distributed``'s shutdown barrier for the dead process
    (until the heartbeat timeout) and then abort with a C++ stack trace. The checkpoints
    already written are whole (each is committed at once); the same command resumes from the
    newest.
    """
    first = " ".join(str(error).split())[:300]
    print(f"{prog}: error: process {jax.process_index()} of {jax.process_count()} lost its "
          f"peers ({first}); another process died: see its log; the same command resumes "
          "from the last checkpoint", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(LOST_PEER_EXIT_CODE)


class StopOnSignal:
    """A context manager: while it is open, SIGTERM or SIGINT asks the loop to stop instead of
    killing it.

    Single process: Python handlers (installed from the main thread, where Python delivers
    signals) set :attr:`requested` and :attr:`signum`; a second signal of the same kind gets its
    previous handler back (by default: SIGTERM ends the process at once, SIGINT raises
    ``KeyboardInterrupt``), and the previous handlers are restored on exit. Several processes:
    JAX's preemption service handles SIGTERM (see :meth:`should_stop`); SIGINT keeps its
    default there.
    """

    def __init__(self):
        self.requested = False
        self.signum: int = signal.SIGTERM
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignal:
        if jax.process_count() == 1 and threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        return self

    def should_stop(self, step: int) -> bool:
        """Whether to checkpoint ``step`` and stop; call it after every step, in every process."""
        if jax.process_count() > 1:
            return multihost_utils.reached_preemption_sync_point(step)
        return self.requested

    def _handle(self, signum, frame) -> None:
        del frame
        if not self.requested:
            self.requested, self.signum = True, signum
        signal.signal(signum, self._previous[signum])

    def __exit__(self, *exc) -> None:
        for s, previous in self._previous.items():
            if signal.getsignal(s) == self._handle:
                signal.signal(s, previous)
        self._previous = {}
