"""The sample-quality section of an evaluation: samples of the run scored on features.

Frechet distance, KID, precision/recall, density/coverage, classifier score, per-class counts and
novelty against the training set (:func:`gen_jax.metrics.sample_quality`), on the features of
the toolkit's trained classifier of the run's data set (:func:`gen_jax.metrics.load_classifier`),
or of the FID Inception network (``--features inception``: FD is then FID; no classifier score).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from .. import metrics
from ..models import Sampling, Translation
from ._likelihood import model_variables
from ._settings import MIN_QUALITY_SET, EvalSettings

if TYPE_CHECKING:
    from ..config import ExperimentConfig
    from ..train import Run


CLASSIFIER_DATASETS = ("mnist", "fashion_mnist", "digits")
"""Data sets ``gen-jax classifier train`` supports."""

CLASSIFIER_OF = {"binarized_mnist": "mnist"}
"""Data sets scored with another data set's classifier (same images, no labels of their own)."""


@dataclasses.dataclass
class Quality:
    """What the section computed.

    Attributes:
      section: the JSON-ready section (``{"skipped": note}`` when skipped).
      samples: ``[M, H, W, C]`` generated images in ``[0, 1]`` (None when skipped).
      panel: uint8 image of the closest generated/training pairs (None when skipped).
    """

    section: dict[str, Any]
    samples: np.ndarray | None = None
    panel: np.ndarray | None = None


def classifier_dataset(name: str) -> str | None:
    """The data set whose feature classifier scores samples of ``name`` (None: none can)."""
    name = CLASSIFIER_OF.get(name, name)
    return name if name in CLASSIFIER_DATASETS else None


def _skip(note: str) -> Quality:
    print(f"gen-jax eval: sample quality skipped: {note}", file=sys.stderr)
    return Quality({"skipped": note})


def load_quality_classifier(run, settings: EvalSettings) -> tuple[Any, str | None]:
    """``(feature extractor, None)``, or ``(None, why not)`` when ``quality`` is auto."""
    name = run.info.name
    if not isinstance(run.model, Sampling):
        shown = "translations" if isinstance(run.model, Translation) else "reconstructions"
        note = (f"{run.model_name} has no prior to sample from; the grid shows test examples "
                f"and their {shown}")
        if settings.quality:
            raise ValueError(f"--quality scores samples, but {note}; drop --quality")
        return None, note
    if settings.features == "inception":
        shape = tuple(run.info.shape)
        if len(shape) != 3 or shape[-1] not in (1, 3):
            raise ValueError(f"--features inception scores images with 1 or 3 channels; "
                             f"{name}'s examples have shape {shape}")
        return metrics.load_inception(settings.inception_weights,
                                      resize=settings.inception_resize), None
    dataset = classifier_dataset(name)
    if dataset is None:
        note = (f"no feature classifier for {name!r}: sample-quality metrics need labelled image "
                f"data ({', '.join(CLASSIFIER_DATASETS)})")
        if settings.quality:
            raise ValueError(note)
        return None, note
    try:
        return metrics.load_classifier(dataset, settings.classifier_dir), None
    except FileNotFoundError as e:
        if not settings.train_classifier:
            if settings.quality:
                raise
            return None, " ".join(str(e).split())
    return train_on_first_use(run, dataset, settings), None


def train_on_first_use(run, dataset: str, settings: EvalSettings):
    """Trains the default feature classifier of ``dataset`` into ``settings.classifier_dir``
    (saying so first), then loads it."""
    from ..classifier import train_classifier  # noqa: PLC0415

    print(f"gen-jax eval: no feature classifier of {dataset} in {settings.classifier_dir}; "
          "training the default one now (once: later evaluations load it; "
          "--no-train-classifier skips the quality metrics instead)", file=sys.stderr,
          flush=True)
    data = run.config.data
    record = train_classifier(dataset, settings.classifier_dir, data_dir=data.data_dir,
                              tfds_dir=data.tfds_dir, progress=run.config.train.progress)
    print(f"gen-jax eval: the {dataset} classifier reached test accuracy "
          f"{record['test_accuracy']:.4f}; saved in {record['path']}", file=sys.stderr,
          flush=True)
    return metrics.load_classifier(dataset, settings.classifier_dir)


def quality_section(run: Run, cfg: ExperimentConfig, settings: EvalSettings,
                    loaded: tuple[Any, str | None] | None = None) -> Quality:
    """Draws samples from the run's EMA parameters and scores them against the eval split.

    Args:
      run: the :class:`~gen_jax.train.Run`.
      cfg: its config with the evaluated split.
      settings: the evaluation settings (``quality``, ``num_samples``, ``classifier_dir``...);
        the reference is the first ``num_examples`` images of the split (all: None).
      loaded: :func:`load_quality_classifier`'s answer when the caller has it (to refuse bad
        settings before any work); default: asked here.

    Returns:
      :class:`Quality`.

    Raises:
      FileNotFoundError / ValueError: ``quality=True`` and no classifier can score this data.
    """
    from ..train import load_split  # noqa: PLC0415

    if settings.quality is False:
        return Quality({"skipped": "turned off with --no-quality"})
    classifier, note = loaded or load_quality_classifier(run, settings)
    if classifier is None:
        return _skip(note)
    reference = metrics.dataset_images(load_split(cfg, cfg.data.eval_split))
    reference = reference[:settings.num_examples]
    if len(reference) < MIN_QUALITY_SET:  # (EvalSettings refuses this under --quality)
        return _skip(f"{len(reference)} reference examples are too few for the sample-quality "
                     f"metrics (at least {MIN_QUALITY_SET}: k = 5 neighbours)")
    num = settings.num_samples or len(reference)
    key = jax.random.PRNGKey(settings.seed)
    label = None
    if run.model.num_classes:
        label = np.arange(num, dtype=np.int32) % run.info.num_classes
    samples = metrics.model_samples(run.model, model_variables(run), jax.random.fold_in(key, 3),
                                    num, label=label)
    samples = np.clip(np.asarray(samples, np.float32), 0.0, 1.0)
    train = metrics.dataset_images(load_split(cfg, cfg.data.train_split, size=cfg.data.size))
    inception = settings.features == "inception"
    features = {"samples": metrics.extract_features(classifier, samples)}
    for name, images in (("reference", reference), ("train", train)):  # real data
        features[name] = (metrics.cached_features(classifier, images) if inception
                          else metrics.extract_features(classifier, images))
    logits = None if inception else metrics.extract_logits
    scores = metrics.sample_quality_from_features(
        features["reference"], features["samples"], jax.random.fold_in(key, 4),
        train_features=features["train"],
        generated_logits=None if logits is None else logits(classifier, samples))
    record = classifier.record
    if inception:
        described = {"inception": {k: record.get(k) for k in
                                   ("sha256", "known_source", "resize", "quantize", "path")}}
    else:
        described = {"classifier": {k: record[k] for k in
                                    ("dataset", "arch_hash", "test_accuracy", "path")}}
    section = {
        "num_samples": num, "num_reference": len(reference), "num_train": len(train),
        **described, **scores,
        "real_data": _real_row(classifier, reference, features, num, jax.random.fold_in(key, 6),
                               logits),
    }
    return Quality(section, samples, _panel(samples, train, scores["closest_pairs"]))


def _real_row(classifier, reference: np.ndarray, features: dict[str, np.ndarray], num: int,
              key: jax.Array, logits) -> dict[str, Any]:
    """The scale of every quality metric: the eval split's real images scored as if they were
    the samples (as many as the samples, up to the split's size), against as many training
    images drawn at random (a fixed draw) as the reference, novelty against the whole training
    set. A perfect model scores about this; a model can't beat it by more than the noise."""
    n = min(num, len(reference))
    train = features["train"]
    rows = np.random.default_rng(0).permutation(len(train))[:len(reference)]
    scores = metrics.sample_quality_from_features(
        train[rows], features["reference"][:n], key, train_features=train,
        generated_logits=None if logits is None else logits(classifier, reference[:n]))
    dropped = ("closest_pairs", "class_counts")
    return {"num_samples": n, "num_reference": len(rows),
            **{k: v for k, v in scores.items() if k not in dropped}}


def _panel(samples: np.ndarray, train: np.ndarray, pairs: list) -> np.ndarray:
    """The closest pairs (generated on top, nearest training image below), small images enlarged
    like :func:`gen_jax.train.save_samples` does."""
    gen, ref, dist = (np.asarray(col) for col in zip(*pairs, strict=True))
    empty = np.zeros(0, np.float32)
    novelty = metrics.Novelty(empty, empty, empty, empty, gen.astype(np.int32),
                              ref.astype(np.int32), dist)
    grid = metrics.memorization_panel(samples, train, novelty)
    factor = max(1, 28 // samples.shape[1])
    return grid.repeat(factor, axis=0).repeat(factor, axis=1)
