"""The mode-coverage section of an evaluation: PacGAN's mode-collapse protocol (Lin et al. 2018,
after VEEGAN) on the data sets whose modes are known.

- Gaussian-mixture toy sets (``ring8``, ``ring8_r1``, ``grid25``): 2,500 samples; a sample is
  high quality within 3 standard deviations of its nearest mode centre, and a mode is captured
  by at least one high-quality sample.
- ``stacked_mnist``: 26,000 samples, each channel labelled by the toolkit's MNIST classifier,
  1,000 modes (``100 d0 + 10 d1 + d2``).

Reported: modes captured, the high-quality fraction, the reverse KL of the mode histogram to
uniform (nats), and the smallest and largest captured mode's share of the high-quality samples.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import metrics
from ..data import DataError, toy_modes
from ..models import Sampling
from ._likelihood import model_variables
from ._settings import EvalSettings

PROTOCOL_SAMPLES = {"toy": 2_500, "stacked_mnist": 26_000}
"""Samples per score in the published protocol."""


def _kind(name: str) -> str | None:
    if name == "stacked_mnist":
        return "stacked_mnist"
    try:
        toy_modes(name)
    except DataError:
        return None
    return "toy"


def check_mode_settings(run, settings: EvalSettings) -> None:
    """Refuses ``--mode-samples`` where :func:`mode_section` draws no samples (it would be
    ignored): data without known modes, a model without a prior, a class-conditional model."""
    if settings.mode_samples is None:
        return
    skipped = _skip_reason(run)
    if skipped is not None:
        raise ValueError(f"--mode-samples sets the mode-coverage samples, but {skipped}; "
                         "drop it")


def _skip_reason(run) -> str | None:
    """Why the run has no mode-coverage section (None: it has one)."""
    name = run.info.name
    if _kind(name) is None:
        return (f"{name!r} has no known modes (mode coverage is defined for ring8, "
                "ring8_r1, grid25 and stacked_mnist)")
    if not isinstance(run.model, Sampling):
        return f"{run.model_name} has no prior to sample from"
    if run.model.num_classes:
        return (f"a class-conditional model of {name!r} is given each sample's mode as its "
                "label, so covering the modes measures nothing; the protocol scores "
                "unconditional models")
    return None


def mode_section(run, settings: EvalSettings) -> dict[str, Any]:
    """Samples of the run's EMA parameters scored by the protocol of its data set.

    Returns:
      The JSON-ready section; ``{"skipped": note}`` for data without known modes, a model
      without a prior, a class-conditional model, or stacked MNIST without the MNIST classifier.
    """
    name = run.info.name
    kind = _kind(name)
    skipped = _skip_reason(run)
    if skipped is not None:
        return {"skipped": skipped}
    classify = None
    if kind == "stacked_mnist":
        try:
            classifier = metrics.load_classifier("mnist", settings.classifier_dir)
        except FileNotFoundError as e:
            return {"skipped": " ".join(str(e).split())}
        classify = lambda x: jnp.argmax(classifier.logits(x), axis=-1)  # noqa: E731
    num = settings.mode_samples or PROTOCOL_SAMPLES[kind]
    key = jax.random.fold_in(jax.random.PRNGKey(settings.seed), 5)
    samples = metrics.model_samples(run.model, model_variables(run), key, num)
    if classify is None:
        cov = metrics.toy_mode_coverage(samples, name)
    else:  # the classifier reads images in [0, 1], as the sample-quality section feeds it
        cov = metrics.stacked_mnist_coverage(np.clip(samples, 0.0, 1.0), classify)
    captured = cov.counts[cov.counts > 0] / max(int(cov.counts.sum()), 1)
    section = {
        "protocol": "PacGAN (Lin et al. 2018)", "num_samples": int(len(samples)),  # scored
        "num_modes": int(len(cov.counts)), "modes": int(cov.modes),
        # None: no high-quality sample, so no mode histogram
        "kl": float(cov.kl) if np.isfinite(cov.kl) else None,
        "min_mode_share": float(captured.min()) if captured.size else None,
        "max_mode_share": float(captured.max()) if captured.size else None,
    }
    if kind == "toy":  # every classified stacked-MNIST sample counts: no quality threshold
        section["high_quality"] = float(cov.high_quality)
    return section
