"""Experiment trackers (W&B, MLflow) get what metrics.jsonl gets, offline, across a resume."""

from __future__ import annotations

import dataclasses
import json
import re
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


def _wandb_history(workdir, key):
    """``{step: value}`` of ``key`` in the offline runs' record files: each history item is a
    protobuf with the key (field 2) and its JSON value (field 16), after the ``_step`` item."""
    out = {}
    pattern = re.compile(rb"\x12\x05_step\x82\x01(.)(.+?)\n.\x12" + bytes([len(key)])
                         + re.escape(key.encode()) + rb"\x82\x01(.)", re.S)
    for path in sorted(workdir.glob("wandb/offline-run-*/run-*.wandb")):
        data = path.read_bytes()
        for m in pattern.finditer(data):
            step = int(data[m.start(2):m.start(2) + m.group(1)[0]])
            size = m.group(3)[0]
            out.setdefault(step, float(data[m.end():m.end() + size]))
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
