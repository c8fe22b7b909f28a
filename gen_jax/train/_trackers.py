"""Experiment trackers behind :class:`~gen_jax.train.MetricWriter`: Weights & Biases and MLflow.

Each is optional (an extra), off by default and chosen with ``--train.trackers wandb mlflow``.
A tracker gets the same scalars as ``metrics.jsonl`` at the same steps. The tracker's run id is
kept in ``WORKDIR/trackers.json``, so a resumed training run continues the same tracker run
(records a crashed run wrote after its last checkpoint are logged again at the same steps:
W&B keeps the first value of a step, MLflow keeps both).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

from .._files import write_atomic

RECORD = "trackers.json"
EXTRAS = {"wandb": "wandb", "mlflow": "mlflow"}


class Tracker(Protocol):
    """Receives scalars; closed once at the end of the run."""

    def log(self, step: int, scalars: dict[str, float]) -> None: ...

    def close(self) -> None: ...


def _ids(workdir: Path) -> dict[str, str]:
    path = workdir / RECORD
    return json.loads(path.read_text()) if path.is_file() else {}


def _keep_id(workdir: Path, name: str, run_id: str) -> None:
    ids = _ids(workdir) | {name: run_id}
    write_atomic(workdir / RECORD, json.dumps(ids, indent=1))


def _missing(name: str) -> ValueError:
    return ValueError(f"train.trackers includes {name}, which is not installed: pip install "
                      f"'gen-jax[{EXTRAS[name]}]' (or drop it from --train.trackers)")


class WandbTracker:
    """A W&B run: project ``$WANDB_PROJECT`` (default ``gen-jax``), named after the workdir,
    files under ``workdir`` (``$WANDB_DIR`` wins); ``WANDB_MODE=offline`` keeps it local."""

    def __init__(self, workdir: Path, config: dict[str, Any]):
        try:
            import wandb  # noqa: PLC0415 -- an optional dependency
        except ImportError:
            raise _missing("wandb") from None
        run_id = _ids(workdir).get("wandb") or uuid.uuid4().hex[:12]
        self._run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "gen-jax"), id=run_id, resume="allow",
            name=workdir.resolve().name, config=config,
            dir=os.environ.get("WANDB_DIR", str(workdir)))
        _keep_id(workdir, "wandb", run_id)

    def log(self, step: int, scalars: dict[str, float]) -> None:
        self._run.log(scalars, step=step)

    def close(self) -> None:
        self._run.finish()


class MlflowTracker:
    """An MLflow run in experiment ``$MLFLOW_EXPERIMENT_NAME`` (default ``gen-jax``) at
    ``$MLFLOW_TRACKING_URI``; unset, a local file store in ``workdir/mlruns``."""

    def __init__(self, workdir: Path, config: dict[str, Any]):
        try:
            from mlflow.tracking import MlflowClient  # noqa: PLC0415 -- optional
        except ImportError:
            raise _missing("mlflow") from None
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:  # MLflow 3 refuses its file store unless asked: a local folder is wanted
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            uri = (workdir.resolve() / "mlruns").as_uri()
        self._client = client = MlflowClient(uri)
        self.uri = uri
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "gen-jax")
        experiment = client.get_experiment_by_name(name)
        experiment_id = (experiment.experiment_id if experiment is not None
                         else client.create_experiment(name))
        run_id = _ids(workdir).get("mlflow")
        if run_id is None:
            run = client.create_run(experiment_id, run_name=workdir.resolve().name)
            run_id = run.info.run_id
            for key, value in _flat(config).items():
                client.log_param(run_id, key, value)
            _keep_id(workdir, "mlflow", run_id)
        else:
            client.update_run(run_id, status="RUNNING")
        self.run_id = run_id

    def log(self, step: int, scalars: dict[str, float]) -> None:
        from mlflow.entities import Metric  # noqa: PLC0415

        now = int(time.time() * 1000)
        self._client.log_batch(self.run_id, metrics=[
            Metric(k, v, now, step) for k, v in scalars.items()])

    def close(self) -> None:
        self._client.set_terminated(self.run_id)


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = str(v)[:500]
    return out


TRACKERS = {"wandb": WandbTracker, "mlflow": MlflowTracker}


def make_trackers(names: tuple[str, ...], workdir: Path, config: dict[str, Any]) -> list:
    """The trackers named (opened; close them)."""
    return [TRACKERS[name](workdir, config) for name in names]
