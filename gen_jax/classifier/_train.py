"""Training the feature classifiers that the sample-quality metrics read
(:mod:`gen_jax.metrics` defines, versions and loads them; training needs the engine, so it
lives above it, here).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import shutil
import time
from pathlib import Path
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import data as gdata
from .._files import write_atomic
from ..data import preprocess
from ..metrics import (
    CLASSIFIER_ARCH_VERSION,
    CLASSIFIER_RECORD,
    DEFAULT_CLASSIFIER_ROOT,
    ClassifierConfig,
    ConvClassifier,
    architecture_hash,
    batched_apply,
    classifier_architecture,
)
from ..train import Progress, TrainState, guarded_update


def cross_entropy_loss(net: ConvClassifier, params: Any, x: jax.Array,
                       label: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean softmax cross-entropy of ``[B, H, W, C]`` images against ``[B]`` labels, and
    ``{"accuracy"}``."""
    chex.assert_rank(x, 4)
    chex.assert_rank(label, 1)
    logits, _ = net.apply({"params": params}, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, label).mean()
    accuracy = jnp.mean((jnp.argmax(logits, -1) == label).astype(jnp.float32))
    return loss, {"accuracy": accuracy}


def make_classifier_step(net: ConvClassifier, info):
    """The pure training step ``(state, batch) -> (state, metrics)`` (jit it).

    ``batch`` is a stored batch (``"x"`` uint8 ``[B, H, W, C]``, ``"label"`` ``[B]``), scaled to
    ``[0, 1]`` on device; ``state`` a :class:`gen_jax.train.TrainState`.
    """
    def step(state, batch):
        x = preprocess(batch["x"], None, info)
        (loss, metrics), grads = jax.value_and_grad(
            functools.partial(cross_entropy_loss, net), has_aux=True)(state.params, x,
                                                                      batch["label"])
        state, guard = guarded_update(state, grads, loss, state.batch_stats)
        return state, {"loss": loss, **metrics, **guard}

    return step


def _accuracy(net: ConvClassifier, params: Any, x: np.ndarray, label: np.ndarray) -> float:
    logits = batched_apply(jax.jit(lambda xb: net.apply({"params": params}, xb)[0]), x,
                           batch_size=1000)
    return float(np.mean(np.argmax(logits, -1) == label))


def train_classifier(
    dataset: str,
    workdir: str | Path = DEFAULT_CLASSIFIER_ROOT,
    config: ClassifierConfig | None = None,
    *,
    data_dir: str | Path | None = None,
    tfds_dir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Trains the feature classifier of ``dataset``, saves and versions it, returns its record.

    Args:
      dataset: a labelled image data set of :func:`gen_jax.data.load` (``mnist``,
        ``fashion_mnist``, ``digits``).
      workdir: root of the classifiers; the result goes to :func:`classifier_dir` (replacing a
        previous classifier of the same architecture there).
      config: architecture and training settings (default :class:`ClassifierConfig`).
      data_dir: raw data folder (default ``$GEN_JAX_DATA_DIR``).
      tfds_dir: prepared TFDS folder (default ``$GEN_JAX_TFDS_DIR``).
      progress: show a progress bar.

    Returns:
      The record written to ``classifier.json`` (``test_accuracy``, ``path``, ...).
    """
    cfg = config or ClassifierConfig()
    info = gdata.info(dataset)
    if not info.num_classes or len(info.shape) != 3:
        raise ValueError(f"{dataset!r} is not a labelled image data set; train the feature "
                         "classifier on mnist, fashion_mnist or digits")
    train_ds = gdata.load(dataset, "train", data_dir=data_dir, tfds_dir=tfds_dir,
                          size=cfg.train_size)
    test_ds = gdata.load(dataset, "test", data_dir=data_dir, tfds_dir=tfds_dir)
    net = ConvClassifier(info.num_classes, tuple(cfg.channels), cfg.features, cfg.kernel_size)
    steps_per_epoch = max(len(train_ds) // cfg.batch_size, 1)
    steps = cfg.epochs * steps_per_epoch
    key_init, key_run = jax.random.split(jax.random.PRNGKey(cfg.seed))
    params = jax.jit(net.init)(key_init, jnp.zeros((1, *info.shape), jnp.float32))["params"]
    tx = optax.adamw(optax.cosine_decay_schedule(cfg.learning_rate, steps),
                     weight_decay=cfg.weight_decay)
    state = TrainState.create(params=params, tx=tx, rng=key_run)
    step_fn = jax.jit(make_classifier_step(net, info), donate_argnums=0)

    start = time.perf_counter()
    bar = Progress(steps, enabled=progress)
    with gdata.Loader(train_ds, min(cfg.batch_size, len(train_ds)), seed=cfg.seed) as loader:
        for i in range(1, steps + 1):
            state, metrics = step_fn(state, next(loader))
            if i % 100 == 0:
                bar.update(100, loss=float(metrics["loss"]))
    bar.update(steps % 100)
    bar.close()
    jax.block_until_ready(state)
    seconds = time.perf_counter() - start
    scale = lambda ds: np.asarray(gdata.preprocess(ds.x, None, info))  # noqa: E731
    test_accuracy = _accuracy(net, state.params, scale(test_ds), test_ds.label)

    arch = classifier_architecture(cfg, info)
    out = Path(workdir) / dataset / f"v{CLASSIFIER_ARCH_VERSION}-{architecture_hash(arch)}"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    _save_params(out / "params", state.params)
    record = {
        "dataset": dataset, "architecture": arch, "arch_hash": architecture_hash(arch),
        "arch_version": CLASSIFIER_ARCH_VERSION, "config": dataclasses.asdict(cfg),
        "test_accuracy": test_accuracy, "num_train": len(train_ds), "num_test": len(test_ds),
        "steps": steps, "train_seconds": round(seconds, 1),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "jax_version": jax.__version__, "path": str(out),
    }
    text = json.dumps(record, indent=2)
    write_atomic(out / CLASSIFIER_RECORD, text + "\n")
    return json.loads(text)  # as saved (tuples become lists)


def _save_params(path: Path, params: Any) -> None:
    import orbax.checkpoint as ocp  # noqa: PLC0415

    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(path.absolute(), params)
        ckpt.wait_until_finished()
