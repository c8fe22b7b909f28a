"""Experiment trackers (W&B, MLflow) get what metrics.jsonl gets, offline, across a resume."""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest

from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.models import VAEConfig
from gen_jax.train import read_metrics, train


def _cfg(workdir, steps, trackers):
    return ExperimentConfig(
        model=VAEConfig(hidden=(8,), latent_dim=2), data=DataConfig(name="digits", batch_size=32),
        optim=OptimConfig(),
        train=TrainConfig(workdir=str(workdir), steps=steps, log_every=5, eval_every=1000,
                          sample_every=1000, checkpoint_every=5, progress=False,
                          trackers=trackers))


def _logged(workdir, key="train/loss"):
    return {r["step"]: r[key] for r in read_metrics(workdir) if key in r}


def test_mlflow_gets_every_logged_metric_and_a_resumed_run_continues_its_run(tmp_path,
                                                                             monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    train(_cfg(tmp_path, 10, ("mlflow",)), "vae")
    first = json.loads((tmp_path / "trackers.json").read_text())["mlflow"]
    train(_cfg(tmp_path, 20, ("mlflow",)), "vae")  # resumed at step 10
    assert json.loads((tmp_path / "trackers.json").read_text())["mlflow"] == first
    client = MlflowClient((tmp_path / "mlruns").resolve().as_uri())
    history = {m.step: m.value for m in client.get_metric_history(first, "train/loss")}
    assert history == pytest.approx(_logged(tmp_path)) and sorted(history) == [5, 10, 15, 20]
    run = client.get_run(first)
    assert run.data.params["model_name"] == "vae" and run.info.status == "FINISHED"
    assert run.data.params["train.log_every"] == "5"
    assert "eval/elbo" in run.data.metrics


def _wandb_records(path):
    """The records of a W&B ``.wandb`` file: a 7-byte header, then LevelDB's log format (32 KiB
    blocks of chunks with a 7-byte header: CRC, length, type FULL 1 / FIRST 2 / MIDDLE 3 /
    LAST 4), each record a ``wandb_internal_pb2.Record``."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, block = path.read_bytes(), 32768
    assert data[:4] == b":W&B"
    records, pending, pos = [], b"", 7
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # a block's tail too short for a header is padding
            pos += left
            continue
        length = int.from_bytes(data[pos + 4:pos + 6], "little")
        kind = data[pos + 6]
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def _wandb_history(workdir, key):
    """``{step: value}`` of ``key`` in the offline runs' history records."""
    out = {}
    for path in sorted(workdir.glob("wandb/offline-run-*/run-*.wandb")):
        for record in _wandb_records(path):
            if record.WhichOneof("record_type") != "history":
                continue
            items = {i.key or "/".join(i.nested_key): json.loads(i.value_json)
                     for i in record.history.item}
            if key in items:
                out.setdefault(int(items["_step"]), float(items[key]))
    return out


def test_wandb_offline_gets_every_logged_metric(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_DIR", raising=False)
    train(_cfg(tmp_path, 10, ("wandb",)), "vae")
    train(_cfg(tmp_path, 15, ("wandb",)), "vae")
    run_id = json.loads((tmp_path / "trackers.json").read_text())["wandb"]
    runs = sorted(tmp_path.glob("wandb/offline-run-*"))
    assert len(runs) == 2 and all(r.name.endswith(run_id) for r in runs)  # one run, resumed
    assert _wandb_history(tmp_path, "train/loss") == pytest.approx(_logged(tmp_path))


def test_a_tracker_that_is_not_installed_is_one_line_with_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(ValueError, match=r"train.trackers includes mlflow, which is not "
                                         r"installed: pip install 'gen-jax\[mlflow\]'"):
        train(_cfg(tmp_path, 2, ("mlflow",)), "vae")


def test_a_tracker_named_twice_is_refused():
    with pytest.raises(ValueError, match="names a tracker twice"):
        dataclasses.replace(TrainConfig(), trackers=("wandb", "wandb"))
