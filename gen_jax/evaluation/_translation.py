"""The translation section of ``gen-jax eval``: a frozen classifier of the target domain on
translated images (the measure of CyCADA and UNIT's "translated accuracy").

The target domain's feature classifier (:func:`gen_jax.metrics.load_classifier`, trained on
its labelled training split on first use like the sample-quality classifier) labels the
translations ``G(x)`` of the evaluated split's source images; a translation that keeps the
content is labelled as its source was. Beside it: the same classifier on the untranslated
source images (their channels repeated or averaged to the target's: what no translation gets)
and its own accuracy on the target's test split (what real target images get).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from .. import data as gdata
from .. import metrics
from ..models import Translation
from ._likelihood import model_variables
from ._quality import train_on_first_use
from ._settings import EvalSettings

if TYPE_CHECKING:
    from ..config import ExperimentConfig
    from ..train import Run


def match_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Images ``[N, H, W, C]`` with ``channels`` channels: one channel repeated, or several
    averaged to one (grey)."""
    if x.shape[-1] == channels:
        return x
    if x.shape[-1] == 1:
        return np.repeat(x, channels, axis=-1)
    if channels == 1:
        return np.mean(x, axis=-1, keepdims=True, dtype=np.float32).astype(x.dtype)
    raise ValueError(f"cannot match {x.shape[-1]} channels to {channels}")


def translate_images(run: Run, x: np.ndarray, *, back: bool = False,
                     batch_size: int = 500) -> np.ndarray:
    """``[N, *target shape]`` translations in ``[0, 1]`` (float32) of stored source examples
    ``x`` (``back``: of stored target examples, to the source domain, with a
    :class:`~gen_jax.models.TranslationBack` family), from the run's EMA parameters."""
    model, variables = run.model, model_variables(run)
    info = run.info.target if back else run.info
    fn = jax.jit(model.translate_back if back else model.translate)
    scale = jax.jit(lambda v: gdata.preprocess(v, None, info))
    out = [np.asarray(fn(variables, scale(x[i:i + batch_size])))
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float32)


def _accuracy(logits: np.ndarray, label: np.ndarray) -> dict[str, float]:
    acc = float(np.mean(np.argmax(logits, -1) == label))
    return {"accuracy": acc, "stderr": math.sqrt(max(acc * (1 - acc), 0.0) / len(label))}


def translation_section(run: Run, cfg: ExperimentConfig, settings: EvalSettings
                        ) -> dict[str, Any] | None:
    """The section (None for a model of one domain; ``{"skipped": why}`` without labels or
    without a classifier of the target)."""
    if not isinstance(run.model, Translation):
        return None
    info, target = run.info, run.info.target
    if not info.num_classes or not target.num_classes:
        return {"skipped": f"the frozen-classifier accuracy needs labels in both domains "
                           f"({info.name}: {info.num_classes} classes, {target.name}: "
                           f"{target.num_classes})"}
    classifier, why = _classifier(run, target.name, settings)
    if classifier is None:
        return {"skipped": why}
    ds = gdata.ArrayDataset(info, "", *_split(run, cfg, settings))
    translated = translate_images(run, ds.x)
    source = match_channels(np.asarray(gdata.preprocess(ds.x, None, info)), target.shape[-1])
    logits = {name: metrics.extract_logits(classifier, images)
              for name, images in (("translated", translated), ("source", source))}
    return {
        "target": target.name, "num_examples": len(ds.label),
        "translated": _accuracy(logits["translated"], ds.label),
        "untranslated": _accuracy(logits["source"], ds.label),
        "classifier_test_accuracy": classifier.record.get("test_accuracy"),
        "classifier": classifier.record.get("path"),
        "note": f"Accuracy of the {target.name} feature classifier (frozen, trained on "
                f"{target.name}'s training split) on the translations of the {cfg.data.eval_split} "
                f"split's {info.name} images, against their labels, ± binomial standard error; "
                "untranslated: the same classifier on the source images themselves; "
                f"classifier_test_accuracy: on {target.name}'s own test images.",
    }


def _split(run: Run, cfg: ExperimentConfig, settings: EvalSettings
           ) -> tuple[np.ndarray, np.ndarray]:
    from ..train import load_split  # noqa: PLC0415

    ds = load_split(cfg, cfg.data.eval_split)
    n = len(ds) if settings.num_examples is None else min(len(ds), settings.num_examples)
    return ds.x[:n], ds.label[:n]


def _classifier(run: Run, dataset: str, settings: EvalSettings) -> tuple[Any, str | None]:
    """The target's feature classifier, trained on first use when allowed; or ``(None, why)``."""
    try:
        return metrics.load_classifier(dataset, settings.classifier_dir), None
    except FileNotFoundError as e:
        if not settings.train_classifier:
            return None, " ".join(str(e).split())
    return train_on_first_use(run, dataset, settings), None
