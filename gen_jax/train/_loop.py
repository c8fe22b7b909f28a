"""The training loop shared by every family: data, steps, logs, evaluation and checkpoints."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import signal
import sys
import time
import warnings
from collections import deque
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .. import data as gdata
from .._files import write_atomic
from ..config import ExperimentConfig, save_json
from ._checkpoint import Checkpointer
from ._data import data_name, learns_unlabelled, load_split, write_record
from ._evaluator import Evaluator
from ._logging import MetricWriter, Progress
from ._preempt import Preempted, StopOnSignal
from ._privacy import PRIVACY_RECORD, plan_epsilon, plan_settings, privacy_plan
from ._resume import config_changes, describe_changes, schedule_change
from ._run import build_run, write_vocabulary
from ._step import make_train_step

FAULT_ENV = "GEN_JAX_FAULT_KILL_AT_STEP"
"""Testing hook: the run SIGKILLs itself right after this step (to prove crash-safe resume).
The saves of earlier steps are complete first; a kill at a checkpoint step lands while that
step's own save is in flight."""
TERM_ENV = "GEN_JAX_FAULT_TERM_AT_STEP"
"""Testing hook: the run sends itself SIGTERM right after this step (a preemption notice)."""
INT_ENV = "GEN_JAX_FAULT_INT_AT_STEP"
"""Testing hook: the run sends itself SIGINT (Ctrl-C) right after this step."""
FAULT_PROCESS_ENV = "GEN_JAX_FAULT_PROCESS"
"""Testing hook: when set, the hooks above act in the process of this index only (a peer that
dies or is preempted alone)."""


class NonFiniteError(RuntimeError):
    """Training produced non-finite losses or gradients too many steps in a row."""


def train(cfg: ExperimentConfig, model_name: str) -> dict[str, float]:
    """Trains ``model_name`` as ``cfg`` says, resuming from ``cfg.train.workdir`` when it can.

    Returns:
      The final evaluation metrics (also written to ``workdir/final_metrics.json``).

    Raises:
      Preempted: a process got SIGTERM, or (one process) SIGINT; the step in flight (with
        several processes: the step all of them agreed on) was finished and checkpointed, and
        the same call resumes from it.
    """
    train_data = functools.cache(
        lambda keep_unlabelled: load_split(cfg, cfg.data.train_split, size=cfg.data.size,
                                           keep_unlabelled=keep_unlabelled))
    run, data_state = build_run(cfg, model_name, restore=cfg.train.resume, train_data=train_data)
    tc, strategy = cfg.train, run.strategy
    workdir = Path(tc.workdir)
    lead = jax.process_index() == 0
    start = int(strategy.fetch(run.state.step))
    semi = learns_unlabelled(cfg, run.model)  # the whole split, unlabelled examples -1
    train_ds = train_data(semi)
    if cfg.data.batch_size > len(train_ds):
        raise ValueError(f"data.batch_size {cfg.data.batch_size} is larger than the "
                         f"{len(train_ds)} training examples of {data_name(cfg)}; lower it")
    if lead:
        workdir.mkdir(parents=True, exist_ok=True)
        saved = workdir / "config.json"
        if start > tc.steps:
            warnings.warn(f"{workdir} has a checkpoint at step {start}, past train.steps "
                          f"{tc.steps}: nothing to train, the step-{start} state is evaluated "
                          f"(pass --train.steps {start} or more to go on)", stacklevel=2)
        elif 0 < start < tc.steps:
            print(f"resumed from step {start} ({workdir / 'checkpoints'})", file=sys.stderr)
            if change := schedule_change(cfg, saved):
                warnings.warn(change, stacklevel=2)
            if changes := config_changes(cfg, model_name, saved):
                warnings.warn(f"resuming {workdir} at step {start} with settings that differ "
                              f"from the ones it was trained with: {describe_changes(changes)}; "
                              "training goes on with the new ones (pass the old ones to resume "
                              "it unchanged)", stacklevel=2)
        # The settings of the last start that trains: a re-run with nothing left to train, or
        # one stopped by the checks above, leaves the record of what was trained alone.
        if start < tc.steps or not saved.exists():
            save_json(cfg, model_name, saved)
        write_record(cfg)
        write_vocabulary(workdir, cfg, run.info)
    plan = privacy_plan(cfg, run.model, run.state, len(train_ds))
    if plan is not None and semi:
        raise ValueError("differentially private training of a semi-supervised family is not "
                         "supported: drop data.labels_per_class or the privacy settings")
    if plan is None:
        labelled = None
        if semi:  # a share of every batch from the labelled pool (label -1: unlabelled)
            labelled = run.model.labelled_per_batch(
                cfg.data.batch_size, int(np.sum(train_ds.label >= 0)), len(train_ds))
        loader = gdata.Loader(train_ds, cfg.data.batch_size, seed=tc.seed,
                              process_index=jax.process_index(),
                              process_count=jax.process_count(), put=strategy.place_batch,
                              labelled_per_batch=labelled)
    else:  # DP-SGD: Poisson-sampled batches, the mechanism recorded with the run
        if lead:
            write_atomic(workdir / PRIVACY_RECORD, json.dumps(plan, indent=2) + "\n")
        loader = gdata.PoissonLoader(train_ds, cfg.data.batch_size, seed=tc.seed,
                                     multiple=strategy.num_devices,
                                     process_index=jax.process_index(),
                                     process_count=jax.process_count(),
                                     put=strategy.place_batch)
    if data_state is not None:
        loader.restore(data_state)
    step_fn = strategy.compile(
        make_train_step(run.model, run.preprocess, axis_name=strategy.axis_name,
                        privacy=None if plan is None else plan_settings(
                            plan, cfg.privacy.norm_chunk)), run.state
    )
    evaluator = Evaluator(run, cfg)
    state = run.state
    hooked = os.environ.get(FAULT_PROCESS_ENV, str(jax.process_index())) == str(
        jax.process_index())
    fault_step = int(os.environ.get(FAULT_ENV, "-1")) if hooked else -1
    term_step = int(os.environ.get(TERM_ENV, "-1")) if hooked else -1
    int_step = int(os.environ.get(INT_ENV, "-1")) if hooked else -1
    check_every = max(1, min(tc.log_every, tc.max_consecutive_nonfinite))
    window = _Window()
    in_flight: deque = deque()  # metrics of the steps dispatched but maybe not yet run
    profiler = _Profiler(tc.profile_steps, workdir / "profile")
    progress = Progress(tc.steps, start, enabled=tc.progress)
    tracked = dataclasses.asdict(cfg) | {"model_name": model_name}
    with Checkpointer(workdir / "checkpoints", max_to_keep=tc.keep_checkpoints) as ckpt, \
            MetricWriter(workdir, resume_step=start, trackers=tc.trackers,
                         config=tracked) as writer, loader, profiler, \
            StopOnSignal() as stop:

        def log(step: int) -> None:
            means = window.means(strategy)
            means["skipped_total"] = float(strategy.fetch(state.skipped))
            if plan is not None:
                means["privacy/epsilon"] = plan_epsilon(plan, step)
            writer.write(step, means, prefix="train/")

        try:
            for step in range(start + 1, tc.steps + 1):
                profiler.before(step)
                waited = time.perf_counter()
                batch = next(loader)
                window.data_wait_s += time.perf_counter() - waited
                if step == start + 1:  # the first call compiles the step (seconds to minutes)
                    progress.phase("compiling the train step")
                state, metrics = step_fn(state, batch)
                if step == start + 1:
                    progress.phase("")
                window.add(metrics)
                in_flight.append(metrics)
                if len(in_flight) > MAX_STEPS_IN_FLIGHT:
                    done = in_flight.popleft()
                    jax.block_until_ready(done)
                    if progress.due():  # the newest finished step's loss: nothing waits on it
                        progress.show(loss=float(strategy.fetch(done["loss"])))
                if step == tc.steps:
                    progress.show(loss=float(strategy.fetch(metrics["loss"])))
                progress.update(1)
                profiler.after(step, state)
                # Also before every save: a checkpoint never holds a streak of non-finite steps
                # that already trips the guard (resuming from it would stop again at once).
                if (step % check_every == 0 or step == tc.steps
                        or step % tc.checkpoint_every == 0):
                    _check_finite(strategy, state, tc, ckpt, step)
                if step % tc.log_every == 0 or step == tc.steps:
                    log(step)
                # A step's samples and evaluation are written before its checkpoint: killed
                # before the save, the run resumes from an earlier step and writes them again
                # (the log drops records after the checkpoint it resumes from); killed after
                # it, they are there.
                if step % tc.sample_every == 0 or step == tc.steps:
                    evaluator.write_samples(state, workdir / "samples" / f"step_{step:07d}.png")
                if step % tc.eval_every == 0 and step != tc.steps:
                    writer.write(step, evaluator.evaluate(state, tc.num_eval_examples),
                                 prefix="eval/")
                if step == tc.steps:
                    final = evaluator.evaluate(state)
                    writer.write(tc.steps, final, prefix="eval/")
                    evaluator.write_samples(state, workdir / "samples.png")
                if step == fault_step:  # testing hook: known checkpoints before the kill
                    ckpt.wait()
                if step % tc.checkpoint_every == 0 or step == tc.steps:
                    ckpt.save(step, strategy.to_host_state(state), loader.state,
                              force=step == tc.steps)
                if step == fault_step:  # testing hook: die mid-run, saves possibly in flight
                    os.kill(os.getpid(), signal.SIGKILL)
                if step == term_step:
                    os.kill(os.getpid(), signal.SIGTERM)
                if step == int_step:
                    os.kill(os.getpid(), signal.SIGINT)
                if stop.should_stop(step) and step != tc.steps:  # a signal: keep it, stop
                    if step % tc.log_every:  # the steps since the last log
                        log(step)
                    if step % tc.checkpoint_every:
                        _check_finite(strategy, state, tc, ckpt, step)
                        ckpt.save(step, strategy.to_host_state(state), loader.state, force=True)
                    ckpt.wait()
                    raise Preempted(step, ckpt.directory, stop.signum)
        finally:
            progress.close()
        if start >= tc.steps:  # nothing trained: evaluated again, not logged again
            final = evaluator.evaluate(state)
            evaluator.write_samples(state, workdir / "samples.png")
        if plan is not None:
            final = {**final, "privacy/epsilon": plan_epsilon(plan, max(start, tc.steps)),
                     "privacy/delta": plan["delta"]}
        if lead:
            write_atomic(workdir / "final_metrics.json", json.dumps(final, indent=2))
    return final


# How many steps the host may dispatch ahead of the devices. One queued step is enough to keep
# the devices busy while the host prepares the next. Unbounded, the host fills XLA:CPU's
# per-device queue of 32 computations; two-process CPU runs (jaxlib 0.10.2, gloo) then hung,
# each time with one process's launch waiting for room on one of its devices while its other
# device, and the other process, waited in the step's all-reduce (3 of 7 runs of 400 steps;
# 0 of 29 with this bound). See tests/train/test_parallel.py and README "Parallel ...".
MAX_STEPS_IN_FLIGHT = 2


@jax.jit
def _add_trees(a, b):
    """Sums two metric trees in one program (eager ``jnp.add`` would dispatch one per leaf)."""
    return jax.tree.map(jnp.add, a, b)


class _Window:
    """Sums step metrics on device between logs; means over the good (finite) steps only.

    Also reports wall-clock throughput (``steps_per_sec``) and the mean time the loop waited
    for the input pipeline per step (``data_wait_ms``; near 0 when prefetching keeps up).
    """

    def __init__(self):
        self._sums, self._count = None, 0
        self.data_wait_s, self._since = 0.0, time.perf_counter()

    def add(self, metrics) -> None:
        self._sums = metrics if self._sums is None else _add_trees(self._sums, metrics)
        self._count += 1

    def means(self, strategy) -> dict[str, float]:
        sums = {k: float(v) for k, v in strategy.fetch(self._sums).items()}
        bad = sums.pop("nonfinite")
        good = self._count - bad
        out = {k: (v / good if good else float("nan")) for k, v in sums.items()}
        now = time.perf_counter()
        out |= {"nonfinite_steps": bad, "steps": float(self._count),
                "steps_per_sec": self._count / (now - self._since),
                "data_wait_ms": 1e3 * self.data_wait_s / self._count}
        self._sums, self._count = None, 0
        self.data_wait_s, self._since = 0.0, now
        return out


class _Profiler:
    """A ``jax.profiler`` trace of steps ``[start, stop)``, also when resumed inside the window."""

    def __init__(self, window: tuple[int, int] | None, directory: Path):
        self.window, self.directory, self.active = window, directory, False

    def before(self, step: int) -> None:
        if self.window and not self.active and self.window[0] <= step < self.window[1]:
            jax.profiler.start_trace(str(self.directory))
            self.active = True

    def after(self, step: int, state) -> None:
        if self.active and step >= self.window[1] - 1:
            jax.block_until_ready(state)
            self.stop()

    def stop(self) -> None:
        if self.active:
            jax.profiler.stop_trace()
            self.active = False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _check_finite(strategy, state, tc, ckpt: Checkpointer, step: int) -> None:
    run_of_bad = int(strategy.fetch(state.longest_skip_run))
    if run_of_bad >= tc.max_consecutive_nonfinite:
        ckpt.wait()
        last = ckpt.latest_step()
        where = (f"the last checkpoint is step {last} in {ckpt.directory}" if last is not None
                 else "no checkpoint was written yet")
        raise NonFiniteError(
            f"{run_of_bad} steps in a row (checked at step {step}) had a non-finite loss or "
            "gradient; "
            f"{where}: resume with a lower --optim.learning-rate, or start a new "
            "--train.workdir with --optim.grad-clip-norm set")
