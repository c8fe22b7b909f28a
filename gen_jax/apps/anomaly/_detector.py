"""A detector: a trained run and its threshold, calibrated on held-out normal data or on the
training data's expected contamination."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ... import metrics
from ..._files import write_atomic
from ...config import ExperimentConfig
from ...data import ArrayDataset
from ...models import ExactLikelihood, LikelihoodBound
from ...train import HOLDOUT, Run, load_run, load_split
from ..score import score_examples

RECORD = "anomaly.json"


@dataclasses.dataclass(frozen=True)
class Detector:
    """What ``RUN/anomaly.json`` keeps.

    Attributes:
      normal_classes: the classes trained on as normal; labelled data count every other class
        as anomalous. None: the labels themselves say it (0 normal, anything else anomalous).
      threshold: examples scoring above it are flagged.
      rule: ``"fpr"`` (a target false-positive rate on held-out normal data) or
        ``"contamination"`` (the expected anomalous share of the training data).
      rate: that rate.
      calibration: the split the threshold was set on, its size and score quantiles.
      seed: the seed of the data draws when scoring.
      correction: None (the family's own score), ``"input_complexity"`` (Serra et al. 2020:
        the NLL in bits minus the input's PNG-compressed length in bits) or
        ``"likelihood_ratio"`` (Ren et al. 2019: the NLL minus a background model's NLL).
      background: the background model's run folder, relative to the detector's
        (``"likelihood_ratio"``).
      score: what is scored before any correction: ``"model"`` (the family's anomaly score),
        ``"recon_error"`` or ``"nll_is"`` (:func:`gen_jax.apps.score.score_examples`), with
        ``importance_samples`` samples for ``"nll_is"``.
    """

    normal_classes: tuple[int, ...] | None
    threshold: float
    rule: str
    rate: float
    calibration: dict[str, Any]
    seed: int = 0
    correction: str | None = None
    background: str | None = None
    score: str = "model"
    importance_samples: int = 100

    def save(self, workdir: str | Path) -> Path:
        path = Path(workdir) / RECORD
        record = dataclasses.asdict(self)
        record["normal_classes"] = (None if self.normal_classes is None
                                    else list(self.normal_classes))
        write_atomic(path, json.dumps(record, indent=1))
        return path


def load_detector(workdir: str | Path) -> Detector:
    """The detector kept in ``workdir``.

    Raises:
      ValueError: none there yet (the message says how to make one).
    """
    path = Path(workdir) / RECORD
    if not path.is_file():
        raise ValueError(f"{workdir} has no detector ({RECORD}): run gen-jax anomaly fit "
                         f"--workdir {workdir} [--fpr 0.05 | --contamination 0.1] first")
    record = json.loads(path.read_text())
    classes = record["normal_classes"]
    return Detector(**(record | {"normal_classes": None if classes is None else tuple(classes)}))


def scoring_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """The run's config as scoring reads data: every class (normal and anomalous), no holdout."""
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, classes=None,
                                                             holdout_fraction=0.0))


def anomalous(labels: np.ndarray, normal_classes: tuple[int, ...] | None) -> np.ndarray:
    """Ground truth from labels: 1 where the label is not a normal class (no normal classes:
    where the label is not 0)."""
    labels = np.asarray(labels)
    if normal_classes is None:
        return (labels != 0).astype(np.int32)
    return (~np.isin(labels, normal_classes)).astype(np.int32)


CORRECTIONS = ("input_complexity", "likelihood_ratio")


def complexity_bits(x: np.ndarray) -> np.ndarray:
    """Serra et al. (2020)'s input complexity ``L(x)``: each uint8 image's length in bits when
    compressed losslessly as PNG (zlib level 9, PNG's filters chosen by Pillow's optimizer)."""
    from PIL import Image  # noqa: PLC0415

    x = np.asarray(x)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError("the input-complexity correction compresses 8-bit images (grey or "
                         f"RGB); these examples are {x.dtype} of shape {x.shape[1:]}")
    out = np.empty(len(x))
    for i, image in enumerate(x):
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
            buffer, format="PNG", optimize=True, compress_level=9)
        out[i] = 8.0 * buffer.tell()
    return out


def background_run(run: Run, detector: Detector) -> Run:
    """The detector's background model, scoring clean (unperturbed) inputs."""
    from ...train import make_preprocess  # noqa: PLC0415

    folder = Path(run.config.train.workdir) / detector.background
    background = load_run(folder)
    clean = dataclasses.replace(background.config.data, perturb=0.0)
    return dataclasses.replace(background, preprocess=make_preprocess(background.info, clean,
                                                                      background.model))


def detector_scores(run: Run, ds: ArrayDataset, *, correction: str | None = None,
                    background: Run | None = None, seed: int = 0, batch_size: int = 256,
                    score: str = "model", importance_samples: int = 100) -> np.ndarray:
    """Anomaly scores of ``ds`` of the kind ``score``, corrected as ``correction`` says (see
    :class:`Detector`)."""
    def raw(model_run):
        return score_examples(model_run, ds, batch_size=batch_size, seed=seed, kind=score,
                              importance_samples=importance_samples)

    scores = raw(run)
    if correction is None:
        return scores
    if score == "recon_error" or not isinstance(run.model, ExactLikelihood | LikelihoodBound):
        raise ValueError(f"the {correction} correction works on a likelihood: use a flow, a VAE "
                         "or PPCA with --score model or nll_is")
    if correction == "input_complexity":
        return scores / np.log(2.0) - complexity_bits(ds.x)
    if correction == "likelihood_ratio":
        if background is None:
            raise ValueError("the likelihood ratio needs the background model's run")
        return scores - raw(background)
    raise ValueError(f"unknown correction {correction!r}; use one of {', '.join(CORRECTIONS)}")


def calibrate(run: Run, *, fpr: float | None = None, contamination: float | None = None,
              seed: int = 0, batch_size: int = 256, correction: str | None = None,
              background: str | None = None, score: str = "model",
              importance_samples: int = 100) -> Detector:
    """Sets the run's threshold and returns the detector (not yet saved).

    Args:
      run: the trained run (its ``data.classes`` are the normal classes).
      fpr: the target false-positive rate on the run's held-out normal data (split
        ``holdout``: train with ``data.holdout_fraction`` > 0).
      contamination: instead, the expected anomalous share of the training data: the
        threshold flags that share of the training examples.
      seed: the data draws of the scores.

    Raises:
      ValueError: both or neither rate, a rate out of range, or no held-out data for ``fpr``.
    """
    if (fpr is None) == (contamination is None):
        raise ValueError("set the threshold from one of --fpr (held-out normal data) or "
                         "--contamination (the training data), not both")
    cfg = run.config
    if fpr is not None:
        if not 0.0 <= fpr < 1.0:
            raise ValueError(f"--fpr must lie in [0, 1), got {fpr}")
        if not cfg.data.holdout_fraction:
            raise ValueError("--fpr sets the threshold on held-out normal data, but the run "
                             "held none out: train it with --data.holdout-fraction 0.1, or use "
                             "--contamination")
        split = HOLDOUT
        ds = load_split(cfg, HOLDOUT)
    else:
        if not 0.0 <= contamination < 1.0:
            raise ValueError(f"--contamination must lie in [0, 1), got {contamination}")
        split = cfg.data.train_split
        ds = load_split(cfg, split, size=cfg.data.size)
    if correction not in (None, *CORRECTIONS):
        raise ValueError(f"unknown correction {correction!r}; use one of "
                         f"{', '.join(CORRECTIONS)}")
    draft = Detector(cfg.data.classes, 0.0, "", 0.0, {}, seed, correction, background)
    back = background_run(run, draft) if correction == "likelihood_ratio" else None
    scores = detector_scores(run, ds, correction=correction, background=back, seed=seed,
                             batch_size=batch_size, score=score,
                             importance_samples=importance_samples)
    threshold = (metrics.threshold_for_fpr(scores, fpr) if fpr is not None
                 else metrics.threshold_for_contamination(scores, contamination))
    q = np.quantile(scores, [0.05, 0.5, 0.95])
    calibration = {"split": split, "num_examples": int(len(scores)),
                   "flagged": int(np.sum(scores > threshold)),
                   "score_q05": float(q[0]), "score_median": float(q[1]),
                   "score_q95": float(q[2])}
    return Detector(cfg.data.classes, float(threshold), "fpr" if fpr is not None
                    else "contamination", float(fpr if fpr is not None else contamination),
                    calibration, seed, correction, background, score, importance_samples)


def scores_of(run: Run, detector: Detector, ds: ArrayDataset, *,
              batch_size: int = 256) -> np.ndarray:
    """The detector's scores of ``ds`` (its score kind, correction and seed)."""
    back = (background_run(run, detector) if detector.correction == "likelihood_ratio"
            else None)
    return detector_scores(run, ds, correction=detector.correction, background=back,
                           seed=detector.seed, batch_size=batch_size, score=detector.score,
                           importance_samples=detector.importance_samples)
