"""A labelled synthetic data set from a trained class-conditional run.

The set is written as an ``.npz`` file of the toolkit's own-data format (``x``: 8-bit images
``[N, H, W, C]`` (0..255, whatever levels the run's data has, as own image data is read) or
float32 vectors, ``y``: int32 labels), so ``--data.path FILE.npz`` trains on
it, with a JSON record beside it (``FILE.json``) naming the run, its step and config digest,
the settings, the per-class counts and how many draws each filter kept.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from ... import metrics, provenance
from ..._files import write_atomic, write_atomic_with
from ...evaluation import classifier_dataset, model_variables
from ...models import Sampling, TemperatureSampling
from ...train import Run, load_split

RECORD_FORMAT = "gen_jax generated data set"
RECORD_VERSION = 1
BATCH = 500
"""Samples drawn per compiled call."""

Filter = Literal["none", "confidence", "knn"]


@dataclasses.dataclass(frozen=True)
class GenerateSettings:
    """What to draw and what to keep.

    Attributes:
      per_class: examples of every class (a balanced set); exclusive with ``counts``.
      counts: examples of class ``i`` is ``counts[i]`` (one entry per class, zeros allowed).
      seed: seed of the draws.
      temperature: scale of the prior's standard deviation (families with
        :class:`~gen_jax.models.TemperatureSampling`; 1: the model itself).
      filter: ``none``; ``confidence``: keep a sample when the data set's feature classifier
        gives its intended class at least ``min_confidence``; ``knn``: keep it when it lies in
        the k-NN manifold of the real training examples of its class (classifier features,
        :func:`gen_jax.metrics.inside_real_manifold`).
      min_confidence: the confidence filter's threshold, in ``(0, 1]``.
      k: the knn filter's neighbour rank.
      max_draws: give up on a class after drawing this many times its count (a filter that
        keeps almost nothing fails with a line saying so rather than drawing for ever).
    """

    per_class: int | None = None
    counts: tuple[int, ...] | None = None
    seed: int = 0
    temperature: float = 1.0
    filter: Filter = "none"
    min_confidence: float = 0.9
    k: int = 3
    max_draws: float = 20.0

    def __post_init__(self):
        if (self.per_class is None) == (self.counts is None):
            raise ValueError("give either --per-class N (a balanced set) or --counts "
                             "N0,N1,... (one count per class)")
        if self.per_class is not None and self.per_class < 1:
            raise ValueError(f"--per-class must be positive, got {self.per_class}")
        if self.counts is not None and (min(self.counts, default=-1) < 0
                                        or sum(self.counts) < 1):
            raise ValueError(f"--counts {list(self.counts)}: give non-negative counts, at "
                             "least one positive")
        if not np.isfinite(self.temperature) or self.temperature <= 0:
            raise ValueError(f"--temperature must be a finite number > 0, got "
                             f"{self.temperature}")
        if self.filter not in ("none", "confidence", "knn"):
            raise ValueError(f"--filter {self.filter!r}: use none, confidence or knn")
        if not 0 < self.min_confidence <= 1:
            raise ValueError(f"--min-confidence must lie in (0, 1], got {self.min_confidence}")
        if self.k < 1:
            raise ValueError(f"--k must be positive, got {self.k}")
        if self.max_draws < 1:
            raise ValueError(f"--max-draws must be at least 1, got {self.max_draws}")

    def class_counts(self, num_classes: int) -> np.ndarray:
        """``[num_classes]`` examples wanted per class."""
        if self.counts is None:
            return np.full(num_classes, self.per_class, np.int64)
        if len(self.counts) != num_classes:
            raise ValueError(f"--counts has {len(self.counts)} entries, the run has "
                             f"{num_classes} classes: give one count per class")
        return np.asarray(self.counts, np.int64)


@dataclasses.dataclass(frozen=True)
class GeneratedSet:
    """A generated data set: ``x`` (uint8 images or float32 vectors), ``y`` (int32) and its
    record (what :func:`save_generated` writes beside it)."""

    x: np.ndarray
    y: np.ndarray
    record: dict[str, Any]


def check_run(run: Run) -> None:
    """One-line ``ValueError`` when the run cannot make a labelled data set."""
    if not isinstance(run.model, Sampling):
        raise ValueError(f"{run.model_name} has no prior to sample from; generate data with a "
                         "vae, gan, flow, diffusion or flow_matching run")
    if not run.model.num_classes:
        raise ValueError(f"the {run.model_name} run in {run.config.train.workdir} is not "
                         "class-conditional, so its samples have no labels; train it with "
                         "--model.conditional")


def _sampler(run: Run, temperature: float):
    model, variables = run.model, model_variables(run)
    if temperature != 1.0:
        if not isinstance(model, TemperatureSampling):
            raise ValueError(f"{run.model_name} has no sampling temperature; drop "
                             "--temperature (flows and ppca have one)")
        fn = jax.jit(lambda key, label: model.sample_at_temperature(
            variables, key, label.shape[0], temperature, label=label))
    else:
        fn = jax.jit(lambda key, label: model.sample(variables, key, label.shape[0],
                                                     label=label))
    return fn


def _draw(fn, key: jax.Array, labels: np.ndarray) -> np.ndarray:
    """Samples of ``labels`` in compiled batches of :data:`BATCH` (the last one padded), or of
    the next power of two for fewer (the filters' later rounds ask for fewer and fewer: a few
    compiled sizes serve them all)."""
    n, out = len(labels), []
    size = BATCH if n >= BATCH else 1 << (n - 1).bit_length()
    for i, start in enumerate(range(0, n, size)):
        rows = np.minimum(np.arange(start, start + size), n - 1)
        x = fn(jax.random.fold_in(key, i), jnp.asarray(labels[rows], jnp.int32))
        out.append(np.asarray(x)[:min(size, n - start)])
    return np.concatenate(out)


Keep = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""A filter: ``(samples [N, *shape] in model space, labels [N]) -> bool [N]``, True to keep."""


def make_filter(run: Run, settings: GenerateSettings,
                classifier_dir: str | Path | None = None) -> Keep:
    """The filter ``settings.filter`` names, for samples of ``run`` (see
    :class:`GenerateSettings`)."""
    return _Keep(run, settings, classifier_dir)


class _Keep:
    """The built-in filters."""

    def __init__(self, run: Run, settings: GenerateSettings, classifier_dir: str | Path | None):
        self.settings = settings
        if settings.filter == "none":
            return
        name = run.info.name
        dataset = classifier_dataset(name)
        if dataset is None:
            raise ValueError(f"--filter {settings.filter} reads the data set's feature "
                             f"classifier; {name!r} has none (mnist, fashion_mnist, digits): use "
                             "--filter none")
        root = classifier_dir or metrics.DEFAULT_CLASSIFIER_ROOT
        self.classifier = metrics.load_classifier(dataset, root)
        if settings.filter == "knn":
            train = load_split(run.config, run.config.data.train_split)
            features = metrics.extract_features(self.classifier, metrics.dataset_images(train))
            self.real = {int(c): features[train.label == c] for c in np.unique(train.label)}
            small = {c: len(f) for c, f in self.real.items() if len(f) <= settings.k}
            if small:
                raise ValueError(f"--filter knn with --k {settings.k} needs more than k real "
                                 f"examples of every class; class {min(small)} has "
                                 f"{small[min(small)]}: lower --k")

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        s = self.settings
        if s.filter == "none":
            return np.ones(len(y), bool)
        images = np.clip(x, 0.0, 1.0)
        if s.filter == "confidence":
            probs = jax.nn.softmax(metrics.extract_logits(self.classifier, images), axis=-1)
            return np.asarray(probs)[np.arange(len(y)), y] >= s.min_confidence
        features = metrics.extract_features(self.classifier, images)
        keep = np.zeros(len(y), bool)
        for c in np.unique(y):
            rows = y == c
            if int(c) not in self.real:
                raise ValueError(f"--filter knn: the run's training data has no examples of "
                                 f"class {int(c)}")
            keep[rows] = np.asarray(metrics.inside_real_manifold(
                self.real[int(c)], features[rows], k=s.k))
        return keep


def generate_dataset(run: Run, settings: GenerateSettings, *,
                     classifier_dir: str | Path | None = None,
                     sampler: dict[str, Any] | None = None,
                     keep: Keep | None = None) -> GeneratedSet:
    """Draws a labelled data set from a class-conditional run's EMA parameters.

    Classes are drawn in rounds: each round asks every class still short for what it lacks,
    scaled up by the filter's acceptance so far, until every class has its count.

    Args:
      run: a loaded class-conditional run with a prior (:func:`gen_jax.train.load_run`; load it
        with ``model_overrides`` for a sampler or guidance scale).
      settings: counts, filter and temperature.
      classifier_dir: root of the feature classifiers the filters read (default:
        ``$GEN_JAX_CLASSIFIER_DIR``, else ``runs/classifiers``).
      sampler: the sampler settings the run was loaded with, for the record.
      keep: a filter of your own (:data:`Keep`), applied after ``settings.filter``.

    Returns:
      :class:`GeneratedSet`, classes in order (all of class 0, then class 1, ...).

    Raises:
      ValueError: the run is unconditional or has no prior, bad settings, or a filter that
        keeps too little of some class within ``max_draws``.
    """
    check_run(run)
    num_classes = run.model.num_classes
    wanted = settings.class_counts(num_classes)
    builtin = make_filter(run, settings, classifier_dir)
    fn = _sampler(run, settings.temperature)
    key = jax.random.PRNGKey(settings.seed)
    have = np.zeros(num_classes, np.int64)
    drawn = np.zeros(num_classes, np.int64)
    xs: list[list[np.ndarray]] = [[] for _ in range(num_classes)]
    round_ = 0
    while (short := wanted - have).any():
        rate = np.where(drawn > 0, np.maximum(have, 1) / np.maximum(drawn, 1), 1.0)
        margin = 1.0 if settings.filter == "none" else 1.1
        ask = np.where(short > 0, np.ceil(short / np.maximum(rate, 0.05) * margin), 0)
        ask = np.minimum(ask, np.ceil(settings.max_draws * wanted) - drawn).astype(np.int64)
        if (ask[short > 0] <= 0).any():
            c = int(np.flatnonzero((short > 0) & (ask <= 0))[0])
            raise ValueError(
                f"the filters kept {have[c]} of {drawn[c]} samples of class "
                f"{c} ({have[c] / max(drawn[c], 1):.1%}), short of {wanted[c]} after "
                f"--max-draws {settings.max_draws:g} times the count: relax the filter or raise "
                "--max-draws")
        labels = np.repeat(np.arange(num_classes, dtype=np.int32), ask)
        x = _draw(fn, jax.random.fold_in(key, round_), labels)
        kept = builtin(x, labels)
        if keep is not None:
            kept = kept & np.asarray(keep(x, labels), bool)
        for c in np.flatnonzero(ask):
            rows = np.flatnonzero(kept & (labels == c))[:short[c]]
            xs[c].append(x[rows])
            have[c] += len(rows)
        drawn += ask
        round_ += 1
    x = np.concatenate([part for parts in xs for part in parts])
    y = np.repeat(np.arange(num_classes, dtype=np.int32), wanted)
    images = len(run.info.shape) == 3  # 8-bit, as own image data is read
    x = np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8) if images else x.astype(np.float32)
    source = provenance.of_run(run, description=f"labelled samples of a class-conditional "
                               f"{run.model_name} run (gen-jax augment generate)")
    d = run.config.data
    record = {
        "format": RECORD_FORMAT, "version": RECORD_VERSION,
        "num": int(len(y)), "counts": wanted.tolist(), "shape": list(x.shape[1:]),
        "dtype": str(x.dtype),
        "source": {"run": source.run, "model": source.model, "step": source.step,
                   "config_sha256": source.config_sha256, "content": source.content},
        "data": {"name": d.name if d.path is None else None, "path": d.path,
                 "labels_per_class": d.labels_per_class, "labels_seed": d.labels_seed,
                 "classes": None if d.classes is None else list(d.classes), "size": d.size},
        "settings": dataclasses.asdict(settings) | {"sampler": sampler or {},
                                                    "own_filter": keep is not None},
        "drawn": drawn.tolist(),
        "acceptance": [round(float(w / max(n, 1)), 4) for w, n in zip(wanted, drawn, strict=True)],
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    return GeneratedSet(x, y, record)


def record_path(path: str | Path) -> Path:
    """The JSON record beside a generated ``.npz``."""
    return Path(path).with_suffix(".json")


def save_generated(generated: GeneratedSet, path: str | Path) -> Path:
    """Writes ``path`` (``.npz``: ``x``, ``y``) and its record ``path.json``, each atomically;
    returns the ``.npz`` path."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"--out {path}: name an .npz file")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic_with(path, lambda p: np.savez(p, x=generated.x, y=generated.y))
    write_atomic(record_path(path), json.dumps(generated.record | {"file": path.name},
                                               indent=1) + "\n")
    return path


def load_generated(path: str | Path) -> GeneratedSet:
    """Reads a set written by :func:`save_generated` (its record when present, else ``{}``).

    Raises:
      ValueError: not an ``.npz`` with ``x`` and ``y`` of matching length.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            x, y = npz["x"], npz["y"]
    except FileNotFoundError:
        raise ValueError(f"no generated data set at {path}; make one with gen-jax augment "
                         "generate") from None
    except (KeyError, ValueError, OSError) as e:
        raise ValueError(f"{path} is not a generated data set (.npz with x and y): {e}") from None
    if y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"{path}: {len(x)} examples and labels of shape {y.shape}; expected "
                         "one label per example")
    meta = record_path(path)
    record = json.loads(meta.read_text()) if meta.is_file() else {}
    return GeneratedSet(x, y.astype(np.int32), record)

