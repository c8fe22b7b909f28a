"""The run's logs: what a resumed or restarted run keeps of them, and files written whole."""

import json
import os
import struct

import pytest
from tensorboardX.proto import event_pb2

from gen_jax._files import write_atomic
from gen_jax.train import MetricWriter, read_metrics


def _scalars(workdir):
    """``(step, tag, value)`` of every scalar in the run's TensorBoard event files."""
    out = []
    for path in sorted((workdir / "tensorboard").glob("events.out.tfevents.*")):
        data, i = path.read_bytes(), 0
        while i < len(data):  # records: length (8), its CRC (4), event, the event's CRC (4)
            (n,) = struct.unpack("<Q", data[i:i + 8])
            event = event_pb2.Event.FromString(data[i + 12:i + 12 + n])
            out += [(event.step, v.tag, round(v.simple_value, 6)) for v in event.summary.value]
            i += 16 + n
    return out


def test_a_resumed_run_keeps_the_records_up_to_its_checkpoint(tmp_path):
    with MetricWriter(tmp_path) as w:
        for step in (100, 200, 300):
            w.write(step, {"loss": step / 100}, prefix="train/")
    with MetricWriter(tmp_path, resume_step=200) as w:
        w.write(300, {"loss": 9.0}, prefix="train/")
    assert [(r["step"], r["train/loss"]) for r in read_metrics(tmp_path)] == [
        (100, 1.0), (200, 2.0), (300, 9.0)]


def test_a_run_that_starts_over_starts_both_logs_afresh(tmp_path):
    # Killed before its first checkpoint, a run trains again from step 0: neither the JSON
    # lines nor the TensorBoard events keep the first attempt's records.
    with MetricWriter(tmp_path) as w:
        w.write(100, {"loss": 1.0}, prefix="train/")
        w.write(200, {"loss": 2.0}, prefix="train/")
    assert _scalars(tmp_path) == [(100, "train/loss", 1.0), (200, "train/loss", 2.0)]
    # an earlier attempt's file (tensorboardX names files by the second they were opened in)
    (old,) = (tmp_path / "tensorboard").glob("events.out.tfevents.*")
    old.rename(old.with_name("events.out.tfevents.1000000000.earlier"))
    with MetricWriter(tmp_path, resume_step=0) as w:
        w.write(100, {"loss": 9.0}, prefix="train/")
    assert [(r["step"], r["train/loss"]) for r in read_metrics(tmp_path)] == [(100, 9.0)]
    assert _scalars(tmp_path) == [(100, "train/loss", 9.0)]


def test_write_atomic_leaves_the_old_file_whole_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    write_atomic(path, json.dumps({"a": 1}))
    assert json.loads(path.read_text()) == {"a": 1}

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, json.dumps({"a": 2}))
    assert json.loads(path.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]  # no temporary left


def test_the_bar_says_compiling_then_moves_every_step_with_the_latest_loss(tmp_path, capsys):
    from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
    from gen_jax.models import VAEConfig
    from gen_jax.train import train

    cfg = ExperimentConfig(
        model=VAEConfig(hidden=(8,), latent_dim=2, likelihood="gaussian"),
        data=DataConfig(name="ring8", size=256, batch_size=32),
        optim=OptimConfig(), train=TrainConfig(workdir=str(tmp_path), steps=12, log_every=1000,
                                               eval_every=1000, sample_every=1000,
                                               checkpoint_every=1000, progress=True))
    train(cfg, "vae")
    bars = capsys.readouterr().err.replace("\r", "\n").splitlines()
    compiling = [b for b in bars if b.startswith("compiling the train step:")]
    assert compiling and " 0/12 " in compiling[0]
    # log_every 1000: the bar is no longer tied to the logs; it ends at 12/12 with a loss
    # (tqdm draws at most every 0.1 s, so the steps in between may not all be drawn).
    last = [b for b in bars if "12/12" in b][-1]
    final = json.loads((tmp_path / "final_metrics.json").read_text())
    assert "loss=" in last and float(last.split("loss=")[1].rstrip("]")) == pytest.approx(
        -final["elbo"], rel=0.5)
