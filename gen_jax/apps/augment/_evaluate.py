"""Does generated data help? The same classifier trained under one step budget on real data,
real data with classical augmentation, real data mixed with generated data, and generated data
alone (the Classification Accuracy Score of Ravuri & Vinyals 2019), tested on real test data.

Every arm of a seed starts from the same initialization and runs the same number of steps of
the same batch size: the arms differ only in what the batches hold. Accuracies are reported as
mean and standard error over seeds, and each arm against the real-only arm with a paired
t-test over the seeds (a gain is claimed only where it says so).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

from ... import data as gdata
from ...metrics import ConvClassifier, batched_apply, dataset_images
from ...train import TrainState, guarded_update
from ._classical import ClassicalAugment

ARMS = ("real", "real+classical", "real+generated", "generated")
"""The arms: real only, real under :class:`ClassicalAugment`, real mixed with generated (a
fraction ``mix`` of every batch), generated only (CAS)."""
BASELINE = "real"
ALPHA = 0.05
"""Significance level of the paired test."""


@dataclasses.dataclass(frozen=True)
class EvaluateSettings:
    """The classifier's budget and the arms.

    Attributes:
      arms: which of :data:`ARMS` to train.
      steps: training steps of every arm.
      batch_size: examples per step of every arm.
      mix: real+generated: the fraction of each batch drawn from the generated set.
      seeds: independent repeats (initialization and data order); every arm of a seed shares
        its initialization.
      labels_per_class: train the real arms on this many labelled examples per class
        (:func:`gen_jax.data.labelled_subset`; None: the whole training split).
      labels_seed: seed of that draw (fixed over the seeds: the labelled pool is the setting,
        the seeds repeat the training).
      learning_rate: peak AdamW learning rate (cosine decay to 0 over ``steps``).
      weight_decay: AdamW's decoupled weight decay.
      augment: the classical augmentation's ranges.
    """

    arms: tuple[str, ...] = ARMS
    steps: int = 2000
    batch_size: int = 128
    mix: float = 0.5
    seeds: int = 5
    labels_per_class: int | None = None
    labels_seed: int = 0
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    augment: ClassicalAugment = ClassicalAugment()

    def __post_init__(self):
        unknown = [a for a in self.arms if a not in ARMS]
        if not self.arms or unknown:
            raise ValueError(f"--arms {','.join(self.arms)}: choose from {', '.join(ARMS)}")
        if len(set(self.arms)) != len(self.arms):
            raise ValueError(f"--arms {','.join(self.arms)} names an arm twice")
        for name in ("steps", "batch_size", "seeds"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be positive, got "
                                 f"{getattr(self, name)}")
        if not 0 < self.mix < 1:
            raise ValueError(f"--mix is the generated fraction of a batch, strictly between 0 "
                             f"and 1, got {self.mix}")
        if self.labels_per_class is not None and self.labels_per_class < 1:
            raise ValueError(f"--labels-per-class must be positive, got {self.labels_per_class}")
        if self.learning_rate <= 0 or self.weight_decay < 0:
            raise ValueError("--learning-rate must be > 0 and --weight-decay >= 0")

    @property
    def needs_generated(self) -> bool:
        return any("generated" in a for a in self.arms)


def _scale(x: np.ndarray | jax.Array) -> jax.Array:
    return jnp.asarray(x, jnp.float32)


def as_float(x: np.ndarray) -> np.ndarray:
    """A generated set's examples in model space: 8-bit images to ``[0, 1]``, vectors as they
    are."""
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


def _logits(net: nn.Module, params: Any, x: jax.Array) -> jax.Array:
    out = net.apply({"params": params}, x)
    return out[0] if isinstance(out, tuple) else out  # ConvClassifier: (logits, features)


@functools.cache
def _make_step(net: nn.Module, augment: ClassicalAugment | None):
    """The jitted step of ``net`` (one per network and augmentation: every arm and seed of an
    evaluation shares it, with the optimizer that :func:`evaluate_augmentation` makes once)."""
    def loss_fn(params, x, label):
        logits = _logits(net, params, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, label).mean()

    def step(state: TrainState, x, label, key):
        x = _scale(x)
        if augment is not None:
            x = augment(key, x)
        loss, grads = jax.value_and_grad(loss_fn)(state.params, x, label)
        state, _ = guarded_update(state, grads, loss, state.batch_stats)
        return state, loss

    return jax.jit(step, donate_argnums=0)


@functools.partial(jax.jit, static_argnums=0)
def _init(net: nn.Module, key: jax.Array, x: jax.Array) -> Any:
    return net.init(key, x)


@functools.partial(jax.jit, static_argnums=0)
def _predict(net: nn.Module, params: Any, x: jax.Array) -> jax.Array:
    return _logits(net, params, _scale(x))


class _Stream:
    """Row indices of ``n`` examples in reshuffled passes."""

    def __init__(self, n: int, rng: np.random.Generator):
        self.n, self.rng, self.order, self.at = n, rng, rng.permutation(n), 0

    def take(self, k: int) -> np.ndarray:
        out = []
        while k > 0:
            if self.at == self.n:
                self.order, self.at = self.rng.permutation(self.n), 0
            part = self.order[self.at:self.at + k]
            out.append(part)
            self.at += len(part)
            k -= len(part)
        return np.concatenate(out) if out else np.zeros(0, np.int64)


@dataclasses.dataclass(frozen=True)
class ArmResult:
    """One arm of one seed: its test accuracy and the budget it used."""

    accuracy: float
    steps: int
    examples: int
    generated_examples: int


def optimizer(settings: EvaluateSettings) -> optax.GradientTransformation:
    """AdamW with a cosine decay over the steps: the same object for every arm (their jitted
    step is then compiled once)."""
    return optax.adamw(optax.cosine_decay_schedule(settings.learning_rate, settings.steps),
                       weight_decay=settings.weight_decay)


def train_arm(arm: str, net: nn.Module, real: gdata.ArrayDataset,
              generated: tuple[np.ndarray, np.ndarray] | None, test: gdata.ArrayDataset,
              settings: EvaluateSettings, seed: int,
              tx: optax.GradientTransformation | None = None) -> ArmResult:
    """Trains ``net`` from seed ``seed``'s initialization on ``arm``'s batches (examples in
    model space, float32); returns its accuracy on ``test`` and the steps and examples it
    saw. ``tx``: the optimizer (default :func:`optimizer`; pass one object to every arm)."""
    s = settings
    use_real = arm != "generated"
    if "generated" in arm and generated is None:
        raise ValueError(f"the {arm} arm needs a generated data set: pass --generated FILE.npz")
    num_gen = {"real": 0, "real+classical": 0, "generated": s.batch_size,
               "real+generated": int(round(s.mix * s.batch_size))}[arm]
    num_real = s.batch_size - num_gen if use_real else 0
    key_init, key_state, key_aug = jax.random.split(jax.random.PRNGKey(seed), 3)
    params = _init(net, key_init, _scale(real.x[:1]))["params"]
    state = TrainState.create(params=params, tx=tx or optimizer(s), rng=key_state)
    step = _make_step(net, s.augment if arm == "real+classical" else None)
    rng = np.random.default_rng(seed)
    real_rows = _Stream(len(real), rng)
    gen_rows = _Stream(len(generated[1]), np.random.default_rng([seed, 1])) if num_gen else None
    seen = seen_gen = 0
    for i in range(s.steps):
        parts_x, parts_y = [], []
        if num_real:
            rows = real_rows.take(num_real)
            parts_x.append(real.x[rows])
            parts_y.append(real.label[rows])
        if num_gen:
            rows = gen_rows.take(num_gen)
            parts_x.append(generated[0][rows])
            parts_y.append(generated[1][rows])
        x, y = np.concatenate(parts_x), np.concatenate(parts_y).astype(np.int32)
        state, _ = step(state, x, y, jax.random.fold_in(key_aug, i))
        seen += len(y)
        seen_gen += num_gen
    logits = batched_apply(functools.partial(_predict, net, state.params), test.x,
                           batch_size=1000)
    accuracy = float(np.mean(np.argmax(logits, -1) == test.label))
    return ArmResult(accuracy, s.steps, seen, seen_gen)


def paired_test(arm: np.ndarray, baseline: np.ndarray) -> dict[str, Any]:
    """Paired t-test of per-seed accuracies (two-sided): mean difference, its standard error,
    t, p and whether the difference is significant at :data:`ALPHA` (None with one seed)."""
    from scipy import stats  # noqa: PLC0415

    diff = np.asarray(arm, np.float64) - np.asarray(baseline, np.float64)
    out: dict[str, Any] = {"mean_difference": float(diff.mean()), "sem": None, "t": None,
                           "p_value": None, "significant": None}
    if len(diff) < 2:
        return out
    sem = float(diff.std(ddof=1) / math.sqrt(len(diff)))
    out["sem"] = sem
    if sem == 0.0:  # identical in every seed, or differing by the same amount
        out["significant"] = bool(diff.mean() != 0.0)
        out["p_value"] = 0.0 if diff.mean() != 0.0 else 1.0
        return out
    result = stats.ttest_rel(arm, baseline)
    out.update(t=float(result.statistic), p_value=float(result.pvalue),
               significant=bool(result.pvalue < ALPHA))
    return out


def check_generated(generated: tuple[np.ndarray, np.ndarray], real: gdata.ArrayDataset,
                    num_classes: int) -> None:
    """One-line ``ValueError`` when the generated set does not fit the real data."""
    x, y = generated
    if tuple(x.shape[1:]) != tuple(real.x.shape[1:]):
        raise ValueError(f"the generated set holds examples of shape {tuple(x.shape[1:])}, the "
                         f"real data {tuple(real.x.shape[1:])}: generate from a run on this "
                         "data set")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"the generated labels span {y.min()}..{y.max()}, the real data has "
                         f"classes 0..{num_classes - 1}")


def evaluate_augmentation(real: gdata.ArrayDataset, test: gdata.ArrayDataset,
                          settings: EvaluateSettings,
                          generated: tuple[np.ndarray, np.ndarray] | None = None, *,
                          net: nn.Module | None = None,
                          progress: Callable[[str], object] | None = None) -> dict[str, Any]:
    """Trains and tests every arm of ``settings`` for each seed.

    Args:
      real: the real training split (labelled; ``settings.labels_per_class`` selects from it).
      test: the real test split.
      settings: arms, budget, seeds.
      generated: ``(x, y)`` of a generated set (:func:`load_generated`: 8-bit images, or
        vectors in the real data's units).
      net: the classifier, a Flax module from ``[B, *shape]`` inputs (images in ``[0, 1]``) to
        logits (or ``(logits, features)``); default the toolkit's feature classifier
        architecture (:class:`gen_jax.metrics.ConvClassifier`).
      progress: called with a line after each arm (e.g. ``print``).

    Returns:
      The report: per-arm accuracies per seed with mean and standard error, the paired tests
      against the real-only arm, the budget of every arm.
    """
    if real.label is None or test.label is None:
        raise ValueError("augmentation is measured by a classifier: the data need labels")
    if settings.needs_generated and generated is None:
        raise ValueError(f"the arms {', '.join(a for a in settings.arms if 'generated' in a)} "
                         "need a generated data set: pass --generated FILE.npz")
    num_classes = int(max(real.label.max(), test.label.max())) + 1
    if generated is not None:
        check_generated(generated, real, num_classes)
    if settings.labels_per_class is not None:
        rows = gdata.labelled_subset(real.label, settings.labels_per_class,
                                     settings.labels_seed)
        real = gdata.ArrayDataset(real.info, real.split, real.x[rows], real.label[rows])
    # Both in model space ([0, 1] images), whatever levels each is stored in.
    real = gdata.ArrayDataset(real.info, real.split, dataset_images(real), real.label)
    test = gdata.ArrayDataset(test.info, test.split, dataset_images(test), test.label)
    if generated is not None:
        generated = (as_float(generated[0]), generated[1])
    net = net or ConvClassifier(num_classes)
    results: dict[str, list[ArmResult]] = {arm: [] for arm in settings.arms}
    tx = optimizer(settings)
    for seed in range(settings.seeds):
        for arm in settings.arms:
            result = train_arm(arm, net, real, generated, test, settings, seed, tx)
            results[arm].append(result)
            if progress is not None:
                progress(f"seed {seed} {arm}: test accuracy {result.accuracy:.4f}")
    arms = {}
    for arm, runs in results.items():
        acc = np.array([r.accuracy for r in runs])
        arms[arm] = {"accuracy": acc.tolist(), "mean": float(acc.mean()),
                     "sem": float(acc.std(ddof=1) / math.sqrt(len(acc))) if len(acc) > 1
                     else None,
                     "steps": [r.steps for r in runs], "examples": [r.examples for r in runs],
                     "generated_examples": [r.generated_examples for r in runs]}
    paired = {}
    if BASELINE in arms:
        for arm in arms:
            if arm != BASELINE:
                paired[arm] = {"vs": BASELINE, **paired_test(np.array(arms[arm]["accuracy"]),
                                                             np.array(arms[BASELINE]["accuracy"]))}
    counts = np.bincount(real.label, minlength=num_classes).tolist()
    return {
        "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k != "augment"}
        | {"augment": dataclasses.asdict(settings.augment)},
        "classifier": type(net).__name__,
        "real": {"data": real.info.name, "num_train": len(real.x), "per_class": counts,
                 "num_test": len(test.x)},
        "num_generated": None if generated is None else len(generated[1]),
        "arms": arms, "paired": paired,
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as a markdown table: arm, mean accuracy +- standard error, difference from
    real only with its p-value."""
    s = report["settings"]
    lines = [f"Classifier {report['classifier']}, {s['steps']} steps of {s['batch_size']} "
             f"examples per arm, {s['seeds']} seeds; real training examples "
             f"{report['real']['num_train']}, test examples {report['real']['num_test']}.",
             "", "| arm | test accuracy | vs real only | p (paired t) |", "|---|---|---|---|"]
    for arm, row in report["arms"].items():
        acc = f"{100 * row['mean']:.2f}%" + (f" ± {100 * row['sem']:.2f}" if row["sem"] is not None
                                             else "")
        test = report["paired"].get(arm)
        diff = p = ""
        if test is not None:
            diff = f"{100 * test['mean_difference']:+.2f} pp"
            if test["sem"] is not None:
                diff += f" ± {100 * test['sem']:.2f}"
            p = "" if test["p_value"] is None else f"{test['p_value']:.3g}" + (
                " (significant)" if test["significant"] else "")
        lines.append(f"| {arm} | {acc} | {diff} | {p} |")
    return "\n".join(lines) + "\n"
