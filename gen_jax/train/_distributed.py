"""Multi-process training: ``jax.distributed`` set-up and a local launcher (like torchrun).

On one host, ``gen-jax launch -n N -- train ...`` starts N processes that find each other through
the environment variables below. On clusters, ``jax.distributed.initialize()`` detects SLURM,
Open MPI and TPU pods by itself; set ``GEN_JAX_DISTRIBUTED=auto`` to ask for that.

Environment variables (read by :func:`initialize_from_env`):
  GEN_JAX_COORDINATOR: ``host:port`` of process 0's coordinator service.
  GEN_JAX_NUM_PROCESSES: number of processes.
  GEN_JAX_PROCESS_ID: this process's index in ``[0, num_processes)``.
  GEN_JAX_DISTRIBUTED: ``auto`` to let ``jax.distributed`` detect the cluster.
  GEN_JAX_HEARTBEAT_TIMEOUT: seconds without a heartbeat after which the coordinator declares a
    process dead and ends the others (default 30; ``gen-jax launch`` sets 10 on one host).

A process whose peer died ends within seconds with one line (a collective fails at once on CPU;
a hung one is ended by the heartbeat timeout). ``gen-jax launch`` names the process that died,
stops the others with SIGTERM and, after a grace period, SIGKILL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import jax

_initialized = False


def initialize_from_env() -> bool:
    """Calls ``jax.distributed.initialize`` when the environment asks for it.

    Returns:
      True when this process is part of a multi-process run.
    """
    global _initialized
    if _initialized:
        return True
    env = os.environ
    if "GEN_JAX_COORDINATOR" in env:
        try:
            num = int(env["GEN_JAX_NUM_PROCESSES"])
            pid = int(env["GEN_JAX_PROCESS_ID"])
        except (KeyError, ValueError) as e:
            raise ValueError("GEN_JAX_COORDINATOR is set, so GEN_JAX_NUM_PROCESSES and "
                             "GEN_JAX_PROCESS_ID must be integers too; start runs with "
                             "`gen-jax launch`") from e
        jax.distributed.initialize(
            coordinator_address=env["GEN_JAX_COORDINATOR"], num_processes=num, process_id=pid,
            heartbeat_timeout_seconds=_heartbeat_timeout(),
        )
    elif env.get("GEN_JAX_DISTRIBUTED") == "auto":
        jax.distributed.initialize(heartbeat_timeout_seconds=_heartbeat_timeout())
    else:
        return False
    _initialized = True
    return True


HEARTBEAT_TIMEOUT = 30
LOCAL_HEARTBEAT_TIMEOUT = 10
TERM_GRACE_SECONDS = 5.0
"""How long ``launch`` waits, after a process died and the others got SIGTERM, before SIGKILL."""


def _heartbeat_timeout() -> int:
    raw = os.environ.get("GEN_JAX_HEARTBEAT_TIMEOUT", str(HEARTBEAT_TIMEOUT))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"GEN_JAX_HEARTBEAT_TIMEOUT={raw!r}: pass a whole number of seconds")
    return value


def _describe(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit code {rc}"


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(
    num_processes: int,
    argv: list[str],
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    grace: float = TERM_GRACE_SECONDS,
) -> int:
    """Runs ``gen-jax <argv>`` in ``num_processes`` local processes of one distributed run.

    If any process fails, one line names it, the others get SIGTERM and, those still running
    ``grace`` seconds later, SIGKILL. A SIGTERM to the launcher is passed on to every process
    (they checkpoint an agreed step and exit with 143, see :class:`~gen_jax.train.Preempted`);
    a second one kills them. Returns the first non-zero exit code, else 0.
    """
    if num_processes < 1:
        raise ValueError(f"--num-processes must be at least 1, got {num_processes}")
    port = port or free_port()
    base = dict(os.environ if env is None else env)
    base.setdefault("GEN_JAX_HEARTBEAT_TIMEOUT", str(LOCAL_HEARTBEAT_TIMEOUT))
    procs = []
    for pid in range(num_processes):
        penv = base | {
            "GEN_JAX_COORDINATOR": f"127.0.0.1:{port}",
            "GEN_JAX_NUM_PROCESSES": str(num_processes),
            "GEN_JAX_PROCESS_ID": str(pid),
        }
        procs.append(subprocess.Popen([sys.executable, "-m", "gen_jax", *argv], env=penv))
    index = {p.pid: i for i, p in enumerate(procs)}
    deadline = None if timeout is None else time.monotonic() + timeout
    code, failed_at, kill_at = 0, None, None

    def on_sigterm(signum, frame):  # e.g. scancel: pass the notice on, let them checkpoint
        for q in procs:
            q.send_signal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, on_second_sigterm)

    def on_second_sigterm(signum, frame):  # don't orphan the children: the finally kills them
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        while procs:
            for p in list(procs):
                rc = p.poll()
                if rc is None:
                    continue
                procs.remove(p)
                if rc != 0 and code == 0:
                    code = 128 - rc if rc < 0 else rc  # killed by signal N: 128 + N, as shells do
                    failed_at, kill_at = time.monotonic(), time.monotonic() + grace
                    if procs:  # one failed: stop the rest rather than hang in a collective
                        print(f"gen-jax launch: process {index[p.pid]} of {num_processes} "
                              f"ended ({_describe(rc)}); stopping the others", file=sys.stderr,
                              flush=True)
                    for q in procs:
                        q.send_signal(signal.SIGTERM)
            if kill_at is not None and procs and time.monotonic() > kill_at:
                for q in procs:  # still there after the grace period: not coming back
                    print(f"gen-jax launch: process {index[q.pid]} still running {grace:g} s "
                          "after SIGTERM; killing it", file=sys.stderr, flush=True)
                    q.kill()
                kill_at = None
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"launched run did not finish within {timeout} s")
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGTERM, previous)
        for p in procs:
            p.kill()
            p.wait()
    if failed_at is not None:
        print(f"gen-jax launch: every process ended {time.monotonic() - failed_at:.1f} s after "
              "the first failure", file=sys.stderr, flush=True)
    return code
