"""Building and restoring a run: model, train state and strategy, from a config or a folder."""

from __future__ import annotations

import dataclasses
import json
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
from ._data import data_name, dataset_info, learns_unlabelled, load_split, write_record
from ._distributed import initialize_from_env
from ._parallel import JitStrategy, PmapStrategy, make_strategy
from ._resume import config_changes, describe_changes
from ._state import TrainState


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
    data_state: dict[str, Any] | None = None
    """The input position saved with the restored checkpoint (None on a fresh start)."""


def load_run(workdir: str | Path, *, model_overrides: dict[str, Any] | None = None) -> Run:
    """The trained run in ``workdir`` (its ``config.json`` and latest checkpoint), to sample or
    evaluate: what ``gen-jax sample`` and ``gen-jax eval`` open.

    ``model_overrides`` replaces settings of the model's config that do not change its
    parameters, such as a diffusion model's sampler and steps (``gen-jax sample --sampler``);
    a setting the family does not have is a one-line ``ValueError``.

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
    if model_overrides:
        fields = {f.name for f in dataclasses.fields(cfg.model)}
        for key in model_overrides:
            if key not in fields:
                raise ValueError(f"this {name} run has no {key.replace('_', '-')} setting; drop "
                                 f"--{key.replace('_', '-')}")
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **model_overrides))
    if not _has_checkpoint(cfg):  # (before building, which would create checkpoints/)
        raise ValueError(f"{workdir} has no checkpoint yet; train first")
    return build_run(cfg, name, restore=True)[0]


def save_run(run: Run, workdir: str | Path, *, params: Any,
             origin: dict[str, Any] | None = None) -> Path:
    """Writes ``run`` with new parameters as a run folder of its own, which :func:`load_run`
    (and so ``gen-jax sample``, ``gen-jax eval``, ``gen-jax molecules sample``) opens like any
    trained run: a model changed outside the training loop, such as a REINVENT agent.

    The copy keeps the run's config, step, optimizer state and input position (so ``gen-jax
    train --train.workdir WORKDIR`` goes on training it); its parameters, and its EMA when the
    run keeps one, are ``params``. ``origin`` (the source and what was done to it) is written
    to ``WORKDIR/origin.json`` with the source's folder.

    Args:
      params: a pytree shaped like ``run.state.params`` (host or single-device arrays).

    Returns:
      ``workdir``.

    Raises:
      ValueError: ``workdir`` already holds a run, or ``params`` is not shaped like the run's.
    """
    workdir = Path(workdir)
    if (workdir / "config.json").exists() or (workdir / "checkpoints").exists():
        raise ValueError(f"{workdir} already holds a run; pass a new folder")
    strategy = run.strategy
    old = jax.tree.map(lambda x: (np.shape(x), np.dtype(x.dtype)),
                       strategy.unreplicated(run.state.params))
    new = jax.tree.map(lambda x: (np.shape(x), np.dtype(x.dtype)), params)
    if jax.tree.structure(old) != jax.tree.structure(new) or jax.tree.leaves(
            old, is_leaf=lambda x: isinstance(x, tuple)) != jax.tree.leaves(
            new, is_leaf=lambda x: isinstance(x, tuple)):
        raise ValueError("save_run: params are not shaped like the run's parameters")
    placed = strategy.place_state(jax.tree.map(np.asarray, params))
    state = run.state.replace(
        params=placed, ema_params=None if run.state.ema_params is None else placed)
    cfg = dataclasses.replace(run.config, train=dataclasses.replace(run.config.train,
                                                                     workdir=str(workdir)))
    step = int(strategy.fetch(run.state.step))
    data_state = run.data_state or {"epoch": 0, "batch": 0}
    if jax.process_index() == 0:
        workdir.mkdir(parents=True, exist_ok=True)
        save_json(cfg, run.model_name, workdir / "config.json")
        write_record(cfg)
        write_vocabulary(workdir, cfg, run.info)
        write_atomic(workdir / "origin.json", json.dumps(
            {"source": str(run.config.train.workdir), "step": step, **(origin or {})},
            indent=2) + "\n")
    with Checkpointer(workdir / "checkpoints", max_to_keep=cfg.train.keep_checkpoints) as ckpt:
        ckpt.save(step, strategy.to_host_state(state), data_state, force=True)
        ckpt.wait()
    return workdir


def write_vocabulary(workdir: Path, cfg: ExperimentConfig, info: gdata.DatasetInfo) -> None:
    """``WORKDIR/vocabulary.json`` for token sequences (the ids' meaning, with the run)."""
    if info.vocabulary is not None:
        write_atomic(workdir / "vocabulary.json", json.dumps(
            {"data": data_name(cfg), "tokens": list(info.vocabulary)}, indent=1) + "\n")


def make_preprocess(info: gdata.DatasetInfo, cfg, model: Any = None) -> Any:
    """Stored batch + key -> model batch, as configured (binarize / dequantize).

    A translation pair's target examples (``"y"``) are scaled like ``"x"`` by their own
    domain's info (``info.target``), with no random draws.

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
                                     dequantize=dequantize, perturb=cfg.perturb)}
        for name in ("label", "y_label"):
            if name in batch:
                out[name] = batch[name]
        if "y" in batch:  # a translation pair's target domain: scaled, never randomized
            out["y"] = gdata.preprocess(batch["y"], None, info.target)
        return out

    return preprocess


def build_run(cfg: ExperimentConfig, model_name: str, *, restore: bool = True,
              train_data: Callable[[bool], gdata.ArrayDataset] | None = None
              ) -> tuple[Run, Any]:
    """Builds model, state and strategy; restores the latest checkpoint when asked and present.

    Args:
      train_data: ``train_data(keep_unlabelled)`` returns the training split, with the
        examples outside the labelled draw when asked (the caller's, cached, so that a
        data-dependent initialization, which reads its first examples, does not load it a
        second time); called only when needed, after the config has been checked. Default:
        load it.

    Returns:
      ``(run, data_state)``: ``data_state`` is the saved input position (None on a fresh start).
    """
    initialize_from_env()
    strategy = make_strategy(cfg.train.strategy)
    if cfg.data.batch_size % strategy.num_devices:
        raise ValueError(f"data.batch_size {cfg.data.batch_size} does not split over "
                         f"{strategy.num_devices} devices; use a multiple of "
                         f"{strategy.num_devices}")
    info = dataset_info(cfg)
    dtype = jnp.bfloat16 if cfg.train.compute_dtype == "bfloat16" else jnp.float32
    model = gmodels.build(model_name, cfg.model, info, dtype=dtype)
    if isinstance(model, gmodels.DataRequirements):
        model.check_data(cfg.data)
    preprocess = make_preprocess(info, cfg.data, model)

    key_init, key_pre, key_run = jax.random.split(jax.random.PRNGKey(cfg.train.seed), 3)
    example = _example_batch(info)
    init_examples = model.init_examples() if isinstance(model, gmodels.DataDependentInit) else 0
    if init_examples and not _has_checkpoint(cfg):
        example = _init_batch(cfg, init_examples, train_data,
                              keep_unlabelled=learns_unlabelled(cfg, model))
    variables = jax.jit(lambda k1, k2: model.init(k1, preprocess(example, k2)))(key_init, key_pre)
    # Families with several players (GANs) or phases (M1+M2) bring their own optimizer.
    make_tx = model.make_optimizer if isinstance(model, gmodels.OwnOptimizer) else make_optimizer
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
            state = strategy.restored_state(host)
        else:
            state = strategy.place_state(state)
    return Run(cfg, model_name, model, info, strategy, state, preprocess, data_state), data_state


def _has_checkpoint(cfg: ExperimentConfig) -> bool:
    directory = Path(cfg.train.workdir) / "checkpoints"
    return directory.is_dir() and any(p.name.isdigit() for p in directory.iterdir())


def _init_batch(cfg: ExperimentConfig, size: int,
                train_data: Callable[[bool], gdata.ArrayDataset] | None = None, *,
                keep_unlabelled: bool = False) -> dict[str, np.ndarray]:
    """The first ``size`` training examples (of the split the model trains on), the same in
    every process (data-dependent init)."""
    ds = (train_data or (lambda keep: load_split(cfg, cfg.data.train_split, size=cfg.data.size,
                                                 keep_unlabelled=keep)))(keep_unlabelled)
    n = min(size, len(ds), len(ds.target) if ds.target is not None else size)
    batch = {"x": ds.x[:n]}
    if ds.label is not None:
        batch["label"] = ds.label[:n]
    if ds.target is not None:  # a translation pair: the target domain's first examples too
        batch["y"] = ds.target.x[:n]
        if ds.target.label is not None:
            batch["y_label"] = ds.target.label[:n]
    return batch


def _example_batch(info: gdata.DatasetInfo, size: int = 2) -> dict[str, np.ndarray]:
    dtype = np.uint8 if info.is_discrete else np.float32
    batch = {"x": np.zeros((size, *info.shape), dtype)}
    if info.num_classes:
        batch["label"] = np.zeros((size,), np.int32)
    if info.target is not None:
        target = _example_batch(info.target, size)
        batch |= {"y" if k == "x" else "y_label": v for k, v in target.items()}
    return batch
