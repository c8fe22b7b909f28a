"""Small convolutional classifiers whose penultimate features feed the sample-quality metrics.

The toolkit trains one per labelled image data set (MNIST, Fashion-MNIST, digits), checkpoints
its parameters with orbax and versions it: a classifier lives in
``WORKDIR/DATASET/v{CLASSIFIER_ARCH_VERSION}-{arch_hash}/`` with ``params/`` (orbax) and
``classifier.json``
(data set, architecture and its hash, training settings, test accuracy, time, date). Metrics
computed with different architectures are not comparable, so loading checks the hash and a
missing or mismatched classifier is a one-line error that says how to train it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from ..nn import conv_kernel_init

CLASSIFIER_ARCH_VERSION = 1
"""Bump when the network's code changes in a way that changes its features."""

CLASSIFIER_DIR_ENV = "GEN_JAX_CLASSIFIER_DIR"
DEFAULT_CLASSIFIER_ROOT = os.environ.get(CLASSIFIER_DIR_ENV) or "runs/classifiers"
"""Where feature classifiers are kept: ``$GEN_JAX_CLASSIFIER_DIR`` (read at import), else
``runs/classifiers`` under the working directory."""
CLASSIFIER_RECORD = "classifier.json"


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """Architecture and training settings of a feature classifier.

    Attributes:
      channels: output channels of the stride-2 convolutions (each halves height and width).
      kernel_size: square kernel size of the convolutions.
      features: width of the penultimate dense layer, the feature dimension ``D``.
      epochs: passes over the training split.
      batch_size: examples per step.
      learning_rate: peak Adam learning rate (cosine decay to 0 over the run).
      weight_decay: decoupled weight decay (AdamW).
      seed: seed of the initialization and the data order.
      train_size: use only the first ``train_size`` training examples (None: all).
    """

    channels: tuple[int, ...] = (32, 64)
    kernel_size: int = 5
    features: int = 128
    epochs: int = 5
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    train_size: int | None = None

    def __post_init__(self):
        if not self.channels or min((*self.channels, self.features, self.kernel_size)) < 1:
            raise ValueError(f"classifier channels {self.channels} and features {self.features} "
                             "must be positive")
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("classifier epochs, batch_size and learning_rate must be positive")


class ConvClassifier(nn.Module):
    """``[B, H, W, C]`` images -> ``(logits [B, K], features [B, D])``.

    A stride-2 convolution + ReLU per entry of ``channels`` (28 -> 14 -> 7), then a dense ReLU
    layer of ``features`` units (the features) and a linear layer to ``num_classes`` logits.
    Strided convolutions rather than stride-1 convolutions and max-pooling: the same accuracy
    class at about a ninth of the training time on XLA:CPU (26 ms against 240 ms per step of 128
    MNIST images on 2 cores).
    """

    num_classes: int
    channels: Sequence[int] = (32, 64)
    features: int = 128
    kernel_size: int = 5

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        k = self.kernel_size
        for width in self.channels:
            x = nn.relu(nn.Conv(width, (k, k), strides=2, kernel_init=conv_kernel_init)(x))
        x = x.reshape(x.shape[0], -1)
        features = nn.relu(nn.Dense(self.features)(x))
        return nn.Dense(self.num_classes)(features), features


def classifier_architecture(cfg: ClassifierConfig, info) -> dict[str, Any]:
    """What fixes the features: network code version, layer sizes, input shape, classes."""
    return {"version": CLASSIFIER_ARCH_VERSION, "network": "ConvClassifier",
            "channels": list(cfg.channels),
            "kernel_size": cfg.kernel_size, "features": cfg.features,
            "num_classes": info.num_classes, "input_shape": list(info.shape)}


def architecture_hash(arch: dict[str, Any]) -> str:
    """First 8 hex digits of the SHA-256 of the architecture's canonical JSON."""
    return hashlib.sha256(json.dumps(arch, sort_keys=True).encode()).hexdigest()[:8]


def classifier_dir(dataset: str, workdir: str | Path = DEFAULT_CLASSIFIER_ROOT,
                   config: ClassifierConfig | None = None) -> Path:
    """``workdir/dataset/v{CLASSIFIER_ARCH_VERSION}-{hash}``: where that classifier is (to be)
    saved."""
    from ..data import info as data_info  # noqa: PLC0415

    cfg = config or ClassifierConfig()
    arch = classifier_architecture(cfg, data_info(dataset))
    return Path(workdir) / dataset / f"v{CLASSIFIER_ARCH_VERSION}-{architecture_hash(arch)}"


def _train_command(dataset: str, workdir: str | Path) -> str:
    return (f"gen-jax classifier train {dataset} --workdir {workdir} (or "
            f"gen_jax.classifier.train_classifier({dataset!r}, {str(workdir)!r}))")


@dataclasses.dataclass(frozen=True)
class TrainedClassifier:
    """A trained :class:`ConvClassifier`: a :class:`~gen_jax.metrics.Classifier`.

    Attributes:
      net: the network.
      params: its parameters.
      record: the ``classifier.json`` record (``dataset``, ``test_accuracy``, ``arch_hash``...).
    """

    net: ConvClassifier
    params: Any
    record: dict[str, Any]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.record["architecture"]["input_shape"])

    def _check(self, x) -> jax.Array:
        if tuple(np.shape(x)[1:]) != self.input_shape or np.ndim(x) != 4:
            raise ValueError(f"the {self.record['dataset']} classifier takes [N, "
                             f"{', '.join(map(str, self.input_shape))}] images in [0, 1], got "
                             f"shape {tuple(np.shape(x))}")
        return jnp.asarray(x, jnp.float32)

    def features(self, x) -> jax.Array:
        """``[B, D]`` penultimate features of ``[B, H, W, C]`` images in ``[0, 1]``."""
        return _apply(self.net, self.params, self._check(x))[1]

    def logits(self, x) -> jax.Array:
        """``[B, K]`` class logits of ``[B, H, W, C]`` images in ``[0, 1]``."""
        return _apply(self.net, self.params, self._check(x))[0]


@functools.partial(jax.jit, static_argnums=0)
def _apply(net: ConvClassifier, params: Any, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    return net.apply({"params": params}, x)


def load_classifier_from(path: str | Path) -> TrainedClassifier:
    """Loads the classifier saved in ``path`` (a ``v*-*`` folder), whatever its config.

    Raises:
      FileNotFoundError: no ``classifier.json`` / ``params`` there.
      ValueError: the record's architecture does not match its hash or this code's version.
    """
    path = Path(path)
    meta = path / CLASSIFIER_RECORD
    if not meta.is_file() or not (path / "params").is_dir():
        raise FileNotFoundError(f"{path} holds no trained classifier ({CLASSIFIER_RECORD} + "
                                "params/); "
                                "train one with gen-jax classifier train DATASET")
    record = json.loads(meta.read_text())
    arch = record["architecture"]
    if (arch.get("version") != CLASSIFIER_ARCH_VERSION
            or architecture_hash(arch) != record["arch_hash"]):
        raise ValueError(
            f"the classifier in {path} was trained with architecture version "
            f"{arch.get('version')} (hash {record['arch_hash']}), this gen_jax has version "
            f"{CLASSIFIER_ARCH_VERSION}; retrain it: "
            f"{_train_command(record['dataset'], path.parent.parent)}")
    net = ConvClassifier(arch["num_classes"], tuple(arch["channels"]), arch["features"],
                         arch["kernel_size"])
    abstract = jax.eval_shape(net.init, jax.random.PRNGKey(0),
                              jnp.zeros((1, *arch["input_shape"]), jnp.float32))["params"]
    import orbax.checkpoint as ocp  # noqa: PLC0415

    with ocp.StandardCheckpointer() as ckpt:
        params = ckpt.restore((path / "params").absolute(), abstract)
    return TrainedClassifier(net, params, record)


def load_classifier(dataset: str, workdir: str | Path = DEFAULT_CLASSIFIER_ROOT,
                    config: ClassifierConfig | None = None) -> TrainedClassifier:
    """Loads ``dataset``'s classifier of the architecture of ``config`` from ``workdir``.

    Raises:
      FileNotFoundError: none trained yet (the message says how to train it).
      ValueError: unknown data set, or a saved record that does not match.
    """
    path = classifier_dir(dataset, workdir, config)
    if not (path / CLASSIFIER_RECORD).is_file():
        others = sorted(p.name for p in (Path(workdir) / dataset).glob("v*-*"))
        found = (f" (found only {', '.join(others)}: other architectures)" if others else "")
        raise FileNotFoundError(f"no trained {dataset} feature classifier in {path}{found}; "
                                f"train it with {_train_command(dataset, workdir)}")
    classifier = load_classifier_from(path)
    if classifier.record["dataset"] != dataset:
        raise ValueError(f"{path / CLASSIFIER_RECORD} is a classifier of "
                         f"{classifier.record['dataset']!r}, not {dataset!r}; retrain it with "
                         f"{_train_command(dataset, workdir)}")
    return classifier
