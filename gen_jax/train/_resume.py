"""What a resumed run says about settings that differ from those it was trained with.

A run's ``workdir/config.json`` records the config of its last start that trained. Resuming
under another config is allowed (lowering a learning rate mid-run is a real use), but never
silent: the settings that change what is trained are named in one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import ExperimentConfig, to_dict

RUN_ONLY: dict[str, frozenset[str]] = {
    "model": frozenset({"standing_stats", "init_examples"}),
    "data": frozenset({"data_dir", "tfds_dir", "eval_split"}),
    "train": frozenset({"steps", "workdir", "resume", "log_every", "eval_every",
                        "num_eval_examples", "sample_every", "num_samples", "checkpoint_every",
                        "keep_checkpoints", "strategy", "max_consecutive_nonfinite",
                        "profile_steps", "progress"}),
}
"""Fields that do not change what a resumed run trains: where it reads and writes, how often
it reports, how it is laid out on devices, how it samples, what only a fresh start uses, and
its length (see :func:`schedule_change`). The layout changes the random stream, not the
training: ``jit`` draws the same numbers on any number of devices, while the ``pmap`` strategy
gives each device its own stream, so resuming under pmap on another device count (or switching
between jit and pmap) continues the run with other draws of the same distributions."""

MAX_LISTED = 6
SECTIONS = ("model", "data", "optim", "train", "privacy")


def _saved(path: Path) -> dict[str, Any] | None:
    """The saved config, or None when there is none or it is unreadable (nothing to compare)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _decay_length(run: dict[str, Any]) -> int | None:
    """The number of steps a saved or new config's schedule decays over."""
    return run.get("optim", {}).get("decay_steps") or run.get("train", {}).get("steps")


def schedule_change(cfg: ExperimentConfig, saved_config: Path) -> str | None:
    """One line when resuming the run saved at ``saved_config`` under ``cfg`` recomputes its
    decaying learning-rate schedule over another length (``optim.decay_steps`` unset, so the
    new ``train.steps`` sizes it), else None."""
    saved = _saved(saved_config)
    optim = cfg.optim
    if saved is None or optim.schedule == "constant" or optim.decay_steps:
        return None
    was = _decay_length(saved)
    if was in (None, cfg.train.steps):
        return None
    return (f"resuming a run whose {optim.schedule} learning-rate schedule decays over {was} "
            f"steps with train.steps={cfg.train.steps}: the schedule is recomputed over the new "
            f"length, so the rate jumps at the resumed step; pass --optim.decay_steps {was} to "
            f"keep the old schedule")


def config_changes(cfg: ExperimentConfig, model_name: str, saved_config: Path) -> list[str]:
    """``["optim.learning_rate 0.0002 -> 0.0001", ...]``: the settings of ``cfg`` that change
    what is trained and differ from the run saved at ``saved_config`` (empty when none differ or
    nothing is saved).

    A field the saved config lacks (written before the field existed) counts as its default,
    which is what that run used. ``optim.decay_steps`` is compared as the length the schedule
    decays over, when set in ``cfg`` (unset, a change of length is :func:`schedule_change`'s),
    and not at all when both schedules are constant.
    """
    was = _saved(saved_config)
    if was is None:
        return []
    now = {"model_name": model_name, **to_dict(cfg)}
    for section in SECTIONS:  # older runs: the defaults of fields added since
        defaults = to_dict(type(getattr(cfg, section))())
        was[section] = {**defaults, **was.get(section, {})}
    was_length = _decay_length(was)
    was["optim"]["decay_steps"] = was_length
    if now["optim"]["decay_steps"] is None:
        now["optim"]["decay_steps"] = was_length
    if was["optim"]["schedule"] == now["optim"]["schedule"] == "constant":
        for run in (was, now):
            run["optim"].pop("decay_steps")
    old, new = _flatten(was), _flatten(now)
    return [f"{name} {_show(old[name])} -> {_show(new[name])}"
            for name in sorted(old.keys() & new.keys())
            if old[name] != new[name] and not _run_only(name)]


def describe_changes(changes: list[str]) -> str:
    """``changes`` as one clause, the first few named and the rest counted."""
    shown = ", ".join(changes[:MAX_LISTED])
    more = len(changes) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _run_only(name: str) -> bool:
    section, _, field = name.partition(".")
    return field in RUN_ONLY.get(section, ())


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and not prefix:
            out.update(_flatten(value, f"{key}."))
        else:  # JSON lists and tuples compare alike
            out[prefix + key] = list(value) if isinstance(value, tuple) else value
    return out


def _show(value: Any) -> str:
    return "unset" if value is None else json.dumps(value)
