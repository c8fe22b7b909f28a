"""The training loop shared by every single-objective family: data, steps, logs, checkpoints."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import signal
import time
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import data as gdata
from .. import models as gmodels
from .._files import write_atomic
from ..config import ExperimentConfig, load_json, read_model_name, save_json
from ..optim import make_optimizer
from ._checkpoint import Checkpointer, CheckpointLayoutError
from ._distributed import initialize_from_env
from ._logging import MetricWriter, Progress, save_samples
from ._parallel import JitStrategy, PmapStrategy, make_strategy
from ._preempt import Preempted, StopOnSigterm
from ._resume import config_changes, describe_changes, schedule_change
from ._state import TrainState
from ._step import make_eval_step, make_train_step

FAULT_ENV = "GEN_JAX_FAULT_KILL_AT_STEP"
"""Testing hook: the run SIGKILLs itself right after this step (to prove crash-safe resume).
The saves of earlier steps are complete first; a kill at a checkpoint step lands while that
step's own save is in flight."""
TERM_ENV = "GEN_JAX_FAULT_TERM_AT_STEP"
"""Testing hook: the run sends itself SIGTERM right after this step (a preemption notice)."""


class NonFiniteError(RuntimeError):
    """Training produced non-finite losses or gradients too many steps in a row."""


@dataclasses.dataclass
class Run:
    """What a training run built: reused by ``sample`` and ``eval`` on a finished run."""

    config: ExperimentConfig
    model_name: str
    model: Any
    info: gdata.DatasetInfo
    strategy: JitStrategy | PmapStrategy
    state: TrainState
    preprocess: Any


def load_run(workdir: str | Path) -> Run:
    """The trained run in ``workdir`` (its ``config.json`` and latest checkpoint), to sample or
    evaluate: what ``gen-jax sample`` and ``gen-jax eval`` open.

    The checkpoints are read from ``workdir`` itself, not from the ``train.workdir`` recorded in
    its config, so a run that was moved or copied, or trained with a relative workdir, opens
    from wherever it is now; ``run.config.train.workdir`` is ``workdir``.

    Raises:
      ValueError: ``workdir`` has no ``config.json``, names a model family this gen_jax lacks,
        has no checkpoint yet, or its newest checkpoint folder is not a whole checkpoint.
    """
    path = Path(workdir) / "config.json"
    if not path.is_file():
        raise ValueError(f"{workdir} has no config.json; pass the --workdir of a training run")
    try:
        name = read_model_name(path)
        cfg = load_json(path, gmodels.FAMILIES[name].config) if name in gmodels.FAMILIES else None
    except (ValueError, KeyError, TypeError) as e:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path} is not a gen-jax run record ({type(e).__name__}: {e}); "
                         "pass the --workdir of a training run") from None
    if cfg is None:
        raise ValueError(f"{path} names model {name!r}, which this gen_jax does not have; "
                         f"known: {', '.join(sorted(gmodels.FAMILIES))}")
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, workdir=str(workdir)))
    if not _has_checkpoint(cfg):  # (before building, which would create checkpoints/)
        raise ValueError(f"{workdir} has no checkpoint yet; train first")
    return build_run(cfg, name, restore=True)[0]


def make_preprocess(info: gdata.DatasetInfo, cfg, model: Any = None) -> Any:
    """Stored batch + key -> model batch, as configured (binarize / dequantize).

    ``cfg.dequantize=None`` lets the family decide: one whose
    :class:`~gen_jax.models.DataRequirements` say it ``dequantizes()`` (flows) turns it on for
    discrete data.
    """
    dequantize = cfg.dequantize
    if dequantize is None:
        dequantize = (isinstance(model, gmodels.DataRequirements) and model.dequantizes()
                      and info.is_discrete)

    def preprocess(batch: dict[str, jax.Array], key: jax.Array) -> dict[str, jax.Array]:
        out = {"x": gdata.preprocess(batch["x"], key, info, binarize=cfg.binarize,
                                     dequantize=dequantize)}
        if "label" in batch:
            out["label"] = batch["label"]
        return out

    return preprocess


def build_run(cfg: ExperimentConfig, model_name: str, *, restore: bool = True,
              train_data: Callable[[], gdata.ArrayDataset] | None = None) -> tuple[Run, Any]:
    """Builds model, state and strategy; restores the latest checkpoint when asked and present.

    Args:
      train_data: returns the training split (the caller's, cached, so that a data-dependent
        initialization, which reads its first examples, does not load it a second time);
        called only when needed, after the config has been checked. Default: load it.

    Returns:
      ``(run, data_state)``: ``data_state`` is the saved input position (None on a fresh start).
    """
    initialize_from_env()
    strategy = make_strategy(cfg.train.strategy)
    if cfg.data.batch_size % strategy.num_devices:
        raise ValueError(f"data.batch_size {cfg.data.batch_size} does not split over "
                         f"{strategy.num_devices} devices; use a multiple of "
                         f"{strategy.num_devices}")
    info = gdata.info(cfg.data.name)
    dtype = jnp.bfloat16 if cfg.train.compute_dtype == "bfloat16" else jnp.float32
    model = gmodels.build(model_name, cfg.model, info, dtype=dtype)
    if isinstance(model, gmodels.DataRequirements):
        model.check_data(cfg.data)
    preprocess = make_preprocess(info, cfg.data, model)

    key_init, key_pre, key_run = jax.random.split(jax.random.PRNGKey(cfg.train.seed), 3)
    example = _example_batch(info)
    init_examples = model.init_examples() if isinstance(model, gmodels.DataDependentInit) else 0
    if init_examples and not _has_checkpoint(cfg):
        example = _init_batch(cfg, init_examples, train_data)
    variables = jax.jit(lambda k1, k2: model.init(k1, preprocess(example, k2)))(key_init, key_pre)
    # Families with several players (GANs) bring their own optimizer and step.
    make_tx = model.make_optimizer if isinstance(model, gmodels.OwnUpdate) else make_optimizer
    tx = make_tx(cfg.optim, cfg.train.steps)
    state = TrainState.create(
        params=variables["params"], batch_stats=variables.get("batch_stats"), tx=tx,
        rng=key_run, ema_decay=cfg.optim.ema_decay,
    )
    data_state = None
    directory = Path(cfg.train.workdir) / "checkpoints"
    with Checkpointer(directory, max_to_keep=cfg.train.keep_checkpoints) as ckpt:
        latest = ckpt.latest_step()
        if latest is not None and not restore:
            raise ValueError(f"{directory} holds checkpoints up to step {latest}; pass a new "
                             "--train.workdir, or delete that folder to start over")
        if latest is not None:
            try:
                host, data_state = ckpt.restore(strategy.abstract_state(state))
            except CheckpointLayoutError as err:  # name the settings that changed it
                changes = config_changes(cfg, model_name, directory.parent / "config.json")
                if not changes:
                    raise
                raise ValueError(f"{err}; the run was trained with other settings: "
                                 f"{describe_changes(changes)}") from err
            state = host if isinstance(strategy, JitStrategy) else strategy.place_state(host)
        else:
            state = strategy.place_state(state)
    return Run(cfg, model_name, model, info, strategy, state, preprocess), data_state


def load_split(cfg: ExperimentConfig, split: str, size: int | None = None) -> gdata.ArrayDataset:
    """Loads a split; with several processes, process 0 prepares the TFDS files first."""

    def load():
        return gdata.load(cfg.data.name, split, data_dir=cfg.data.data_dir,
                          tfds_dir=cfg.data.tfds_dir, size=size, seed=cfg.train.seed)

    if jax.process_count() == 1:
        return load()
    from jax.experimental import multihost_utils

    ds = load() if jax.process_index() == 0 else None
    multihost_utils.sync_global_devices(f"gen_jax prepared {cfg.data.name}/{split}")
    return ds if ds is not None else load()


def _has_checkpoint(cfg: ExperimentConfig) -> bool:
    directory = Path(cfg.train.workdir) / "checkpoints"
    return directory.is_dir() and any(p.name.isdigit() for p in directory.iterdir())


def _init_batch(cfg: ExperimentConfig, size: int,
                train_data: Callable[[], gdata.ArrayDataset] | None = None
                ) -> dict[str, np.ndarray]:
    """The first ``size`` training examples, the same in every process (data-dependent init)."""
    ds = (train_data or (lambda: load_split(cfg, cfg.data.train_split, size=cfg.data.size)))()
    n = min(size, len(ds))
    batch = {"x": ds.x[:n]}
    if ds.label is not None:
        batch["label"] = ds.label[:n]
    return batch


def _example_batch(info: gdata.DatasetInfo) -> dict[str, np.ndarray]:
    dtype = np.uint8 if info.is_discrete else np.float32
    batch = {"x": np.zeros((2, *info.shape), dtype)}
    if info.num_classes:
        batch["label"] = np.zeros((2,), np.int32)
    return batch


def train(cfg: ExperimentConfig, model_name: str) -> dict[str, float]:
    """Trains ``model_name`` as ``cfg`` says, resuming from ``cfg.train.workdir`` when it can.

    Returns:
      The final evaluation metrics (also written to ``workdir/final_metrics.json``).

    Raises:
      Preempted: a process got SIGTERM; the step in flight (with several processes: the
        step all of them agreed on) was finished and checkpointed, and the same call resumes
        from it.
    """
    train_data = functools.cache(
        lambda: load_split(cfg, cfg.data.train_split, size=cfg.data.size))
    run, data_state = build_run(cfg, model_name, restore=cfg.train.resume, train_data=train_data)
    tc, strategy = cfg.train, run.strategy
    workdir = Path(tc.workdir)
    lead = jax.process_index() == 0
    start = int(strategy.fetch(run.state.step))
    train_ds = train_data()
    if cfg.data.batch_size > len(train_ds):
        raise ValueError(f"data.batch_size {cfg.data.batch_size} is larger than the "
                         f"{len(train_ds)} training examples of {cfg.data.name}; lower it")
    if lead:
        workdir.mkdir(parents=True, exist_ok=True)
        saved = workdir / "config.json"
        if start > tc.steps:
            warnings.warn(f"{workdir} has a checkpoint at step {start}, past train.steps "
                          f"{tc.steps}: nothing to train, the step-{start} state is evaluated "
                          f"(pass --train.steps {start} or more to go on)", stacklevel=2)
        elif 0 < start < tc.steps:
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
    loader = gdata.Loader(train_ds, cfg.data.batch_size, seed=tc.seed,
                          process_index=jax.process_index(), process_count=jax.process_count(),
                          put=strategy.place_batch)
    if data_state is not None:
        loader.restore(data_state)
    step_fn = strategy.compile(
        make_train_step(run.model, run.preprocess, axis_name=strategy.axis_name), run.state
    )
    evaluator = Evaluator(run, cfg)
    state = run.state
    fault_step = int(os.environ.get(FAULT_ENV, "-1"))
    term_step = int(os.environ.get(TERM_ENV, "-1"))
    check_every = max(1, min(tc.log_every, tc.max_consecutive_nonfinite))
    window = _Window()
    in_flight: deque = deque()  # metrics of the steps dispatched but maybe not yet run
    profiler = _Profiler(tc.profile_steps, workdir / "profile")
    progress = Progress(tc.steps, start, enabled=tc.progress)
    with Checkpointer(workdir / "checkpoints", max_to_keep=tc.keep_checkpoints) as ckpt, \
            MetricWriter(workdir, resume_step=start) as writer, loader, profiler, \
            StopOnSigterm() as stop:

        def log(step: int) -> None:
            means = window.means(strategy)
            means["skipped_total"] = float(strategy.fetch(state.skipped))
            writer.write(step, means, prefix="train/")
            progress.update(int(means["steps"]), loss=means["loss"])

        try:
            for step in range(start + 1, tc.steps + 1):
                profiler.before(step)
                waited = time.perf_counter()
                batch = next(loader)
                window.data_wait_s += time.perf_counter() - waited
                state, metrics = step_fn(state, batch)
                window.add(metrics)
                in_flight.append(metrics)
                if len(in_flight) > MAX_STEPS_IN_FLIGHT:
                    jax.block_until_ready(in_flight.popleft())
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
                if stop.should_stop(step) and step != tc.steps:  # SIGTERM: keep it, stop
                    if step % tc.log_every:  # the steps since the last log
                        log(step)
                    if step % tc.checkpoint_every:
                        _check_finite(strategy, state, tc, ckpt, step)
                        ckpt.save(step, strategy.to_host_state(state), loader.state, force=True)
                    ckpt.wait()
                    raise Preempted(step, ckpt.directory)
        finally:
            progress.close()
        if start >= tc.steps:  # nothing trained: evaluated again, not logged again
            final = evaluator.evaluate(state)
            evaluator.write_samples(state, workdir / "samples.png")
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


def preprocess_examples(preprocess: Any, batch: dict[str, jax.Array], index: jax.Array,
                        key: jax.Array) -> dict[str, jax.Array]:
    """``preprocess`` applied to each example alone with the key ``fold_in(key, index)``.

    An evaluation's random data draws (binarization, dequantization noise) are then a function
    of the example's index only: the same whatever the batch size, device count or process,
    and the same for every estimate computed from one key (the ELBO and the
    importance-sampled NLL score the same binarization of the test set).
    """
    def one(example, i):
        out = preprocess({k: v[None] for k, v in example.items()}, jax.random.fold_in(key, i))
        return {k: v[0] for k, v in out.items()}

    return jax.vmap(one)(batch, index)


def _process_rows(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """This process's contiguous share of the rows of a global batch."""
    count, index = jax.process_count(), jax.process_index()
    size = len(next(iter(batch.values()))) // count
    return {k: v[index * size:(index + 1) * size] for k, v in batch.items()}


def _to_host(x: jax.Array) -> np.ndarray:
    return np.asarray(x.addressable_data(0)) if x.is_fully_replicated else np.asarray(x)


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


class Evaluator:
    """Periodic evaluation and sample grids for a run, jitted once and reused."""

    def __init__(self, run: Run, cfg: ExperimentConfig, *, temperature: float = 1.0,
                 label: int | None = None):
        """Args: ``temperature`` scales the prior's standard deviation when sampling (for
        families with :class:`~gen_jax.models.TemperatureSampling`; 1 is the model itself);
        ``label``: a class-conditional model samples only this class (default: the classes in
        turn)."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if temperature != 1.0 and not isinstance(run.model, gmodels.TemperatureSampling):
            raise ValueError(f"model {run.model_name!r} has no temperature; sample at "
                             "temperature 1")
        conditional = run.model.num_classes > 0
        if label is not None and not conditional:
            raise ValueError(f"this {run.model_name} run is not class-conditional, so it has no "
                             "label to sample; leave out the label")
        if label is not None and not isinstance(run.model, gmodels.Sampling):
            raise ValueError(f"this {run.model_name} run shows reconstructions of test examples, "
                             "not samples, so it has no label to sample; leave out the label")
        if label is not None and not 0 <= label < run.info.num_classes:
            raise ValueError(f"label {label} is not a class of {run.info.name}; use 0 to "
                             f"{run.info.num_classes - 1}")
        num = cfg.train.num_samples
        self.run, self.cfg = run, cfg
        self._eval_ds = None
        model, strategy = run.model, run.strategy
        # the data draws per example (preprocess_examples), the model's own noise per batch
        eval_step = make_eval_step(model, lambda batch, key: batch, axis_name=strategy.axis_name)

        def eval_sums(state, batch, data_key, key):
            weight = batch["weight"]  # 0 for the padding rows of the last batch
            inputs = {k: v for k, v in batch.items() if k not in ("weight", "index")}
            inputs = preprocess_examples(run.preprocess, inputs, batch["index"], data_key)
            per_example = eval_step(state, inputs, key)
            sums = {k: jnp.sum(v * weight) for k, v in per_example.items()}
            if strategy.axis_name is not None:
                sums = jax.lax.psum(sums, strategy.axis_name)
            return sums

        if isinstance(strategy, PmapStrategy):
            self._eval = jax.pmap(eval_sums, axis_name=strategy.axis_name,
                                  in_axes=(0, 0, None, None))
        else:
            self._eval = jax.jit(eval_sums)
        if conditional:
            label = (jnp.arange(num, dtype=jnp.int32) % run.info.num_classes if label is None
                     else jnp.full((num,), label, jnp.int32))
        prepare = (model.sampling_variables if isinstance(model, gmodels.SamplingVariables)
                   else None)
        self._prepare = None if prepare is None else jax.jit(prepare)
        # Evaluation with the sampling statistics too, computed once per evaluate() call: the
        # state's batch statistics replaced by those of the (EMA) variables, prepared.
        self._eval_state = None
        if prepare is not None:
            def eval_state(state):
                return state.replace(
                    batch_stats=prepare(state.variables(ema=True)).get("batch_stats", {}))
            self._eval_state = (jax.pmap(eval_state, axis_name=strategy.axis_name)
                                if isinstance(strategy, PmapStrategy) else jax.jit(eval_state))
        if temperature != 1.0:
            self._sample = jax.jit(lambda variables, key: model.sample_at_temperature(
                variables, key, num, temperature, label=label))
        elif isinstance(model, gmodels.Sampling):
            self._sample = jax.jit(
                lambda variables, key: model.sample(variables, key, num, label=label))
        else:  # no prior: reconstructions instead (see samples())
            self._sample = None

    def evaluate(self, state: TrainState, num_examples: int | None = None,
                 key: jax.Array | None = None) -> dict[str, float]:
        """Mean per-example metrics over the first ``num_examples`` of the eval split (all: None),
        with the (EMA) parameters and the batch statistics of the model's
        ``sampling_variables`` when it has one (computed once per call).

        ``key`` (default ``PRNGKey(train.seed + 1)``) decides every random draw: its first half
        the data draws, per example (:func:`preprocess_examples`), its second the model's own
        noise (e.g. a VAE's latent samples), per batch.

        The last batch is padded to full size (with the split's first examples) and its padding
        rows get weight 0, so every example counts exactly once whatever the batch size and
        device count.
        """
        cfg, strategy = self.cfg, self.run.strategy
        if self._eval_ds is None:
            self._eval_ds = load_split(cfg, cfg.data.eval_split)
        ds = self._eval_ds
        n = len(ds) if num_examples is None else min(num_examples, len(ds))
        bs = cfg.data.batch_size
        key = jax.random.PRNGKey(cfg.train.seed + 1) if key is None else key
        data_key, noise_key = jax.random.split(key)
        if self._eval_state is not None and state.batch_stats:
            state = self._eval_state(state)  # e.g. a GAN's standing statistics
        total = None
        for i, start in enumerate(range(0, n, bs)):
            rows = np.arange(start, start + bs)
            weight = (rows < n).astype(np.float32)
            # Pad with the split's first examples, weighted 0: other rows, not copies of this
            # batch's, so a packed model (PacGAN) still sees each real example packed with
            # other examples, as in training.
            rows = rows % n
            batch = {"x": ds.x[rows], "weight": weight, "index": rows.astype(np.int32)}
            if ds.label is not None:
                batch["label"] = ds.label[rows]
            local = _process_rows(batch)
            sums = self._eval(state, strategy.place_batch(local), data_key,
                              jax.random.fold_in(noise_key, i))
            total = sums if total is None else jax.tree.map(jnp.add, total, sums)
        means = {k: float(v) / n for k, v in strategy.fetch(total).items()}
        return means | {"num_examples": float(n)}

    def samples(self, state: TrainState, key: jax.Array | None = None) -> np.ndarray:
        """``num_samples`` samples from the (EMA) parameters (through the model's
        ``sampling_variables`` when it has :class:`~gen_jax.models.SamplingVariables`), on the
        host.

        For a family without a prior: test examples and their reconstructions, interleaved.
        """
        strategy = self.run.strategy
        variables = state.variables(ema=True)
        if isinstance(strategy, PmapStrategy):
            variables = strategy.fetch(variables)
        if self._prepare is not None:  # e.g. a GAN's standing statistics, once per call
            variables = self._prepare(variables)
        key = jax.random.PRNGKey(self.cfg.train.seed + 2) if key is None else key
        if self._sample is None:
            return self._reconstructions(variables, key)
        return _to_host(self._sample(variables, key))

    def _reconstructions(self, variables, key: jax.Array) -> np.ndarray:
        if self._eval_ds is None:
            self._eval_ds = load_split(self.cfg, self.cfg.data.eval_split)
        # num_samples // 2 pairs (gen-jax sample and eval refuse an odd count up front; a
        # training run's grids are not worth stopping it for)
        n = max(self.cfg.train.num_samples // 2, 1)
        batch = {"x": self._eval_ds.x[:n]}
        if self._eval_ds.label is not None:
            batch["label"] = self._eval_ds.label[:n]
        model_batch = self.run.preprocess(batch, key)
        recon = jax.jit(self.run.model.reconstruct)(variables, model_batch["x"],
                                                    model_batch.get("label"))
        pairs = np.stack([_to_host(model_batch["x"]), _to_host(recon)], axis=1)
        return pairs.reshape(2 * n, *pairs.shape[2:])

    def write_samples(self, state: TrainState, path: Path) -> None:
        samples = self.samples(state)
        if jax.process_index() == 0:
            save_samples(samples, path)
