"""What ``gen-jax eval`` was asked to do: a typed, validated record written into the report."""

from __future__ import annotations

import dataclasses
import shlex

from ..metrics import DEFAULT_CLASSIFIER_ROOT, INCEPTION_RESIZES

FEATURES = ("classifier", "inception")
"""What the sample-quality metrics compare: the data set's classifier or the FID Inception."""

MIN_QUALITY_SET = 6
"""Fewest samples (and reference examples) the sample-quality metrics take: k = 5 neighbours."""


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """Settings of one evaluation of a trained run.

    Attributes:
      split: data split to evaluate on (None: the run's eval split).
      num_examples: first N examples of the split, for every metric (None: all).
      importance_samples: K of the importance-sampled NLL (latent-variable models; 0: off).
      seed: seed of every random draw (preprocessing, importance samples, samples, KID).
      quality: sample-quality metrics: True requires them (a missing classifier is an error),
        False skips them, None (default) computes them when a feature classifier for the data
        set exists and otherwise notes why they were skipped.
      num_samples: samples drawn for the sample-quality metrics (None: as many as there are
        reference examples, e.g. 10,000 for the MNIST test split; equal-size sets are what
        precision/recall and density/coverage assume).
      classifier_dir: root folder of the feature classifiers (``gen-jax classifier train``).
      grid_size: samples drawn in the report's sample grid.
      mode_samples: samples for the mode-coverage section (None: the protocol's, 2,500 on the
        toy mixtures and 26,000 on stacked MNIST).
      out: JSON path (None: ``WORKDIR/eval_SPLIT.json``); the markdown and images go beside it.
      sampler, steps, eta, guidance_scale: diffusion and flow matching: the sampler settings
        that replace the run's own (None: the run's).
      likelihood: diffusion and flow matching: ``"ode"`` computes the exact NLL, ``"none"``
        skips it (None: the run's setting).
      features: the features the sample-quality metrics compare: ``"classifier"`` (the
        toolkit's trained classifier of the data set: fast, with a classifier score) or
        ``"inception"`` (the FID Inception network: FD is then FID, comparable with published
        numbers at the same sample count and reference set; real data's features are cached).
      inception_weights: ``features="inception"``: the weights (default: found by
        :func:`gen_jax.metrics.locate_inception`).
      inception_resize: ``features="inception"``: ``"tf"`` (TF-FID's bilinear) or
        ``"clean"`` (clean-fid's bicubic).
      intended_use: what the model is for, in the model card (None: the card says it was
        not stated).
      train_classifier: a missing feature classifier of a data set that has one (mnist,
        fashion_mnist, digits) is trained on first use (a few minutes on a CPU for MNIST) and
        kept in ``classifier_dir`` for every later evaluation; False: skip the metrics
        instead (an error under ``quality=True``).
    """

    split: str | None = None
    num_examples: int | None = None
    importance_samples: int = 0
    seed: int = 0
    quality: bool | None = None
    num_samples: int | None = None
    classifier_dir: str = DEFAULT_CLASSIFIER_ROOT
    grid_size: int = 64
    mode_samples: int | None = None
    out: str | None = None
    train_classifier: bool = True
    sampler: str | None = None
    steps: int | None = None
    eta: float | None = None
    guidance_scale: float | None = None
    likelihood: str | None = None
    features: str = "classifier"
    inception_weights: str | None = None
    inception_resize: str = "tf"
    intended_use: str | None = None

    def __post_init__(self):
        if self.features not in FEATURES:
            raise ValueError(f"--features must be one of {', '.join(FEATURES)}, got "
                             f"{self.features!r}")
        if self.inception_resize not in INCEPTION_RESIZES:
            raise ValueError(f"--inception-resize must be one of "
                             f"{', '.join(INCEPTION_RESIZES)}, got {self.inception_resize!r}")
        if self.features != "inception" and (self.inception_weights is not None
                                             or self.inception_resize != "tf"):
            raise ValueError("--inception-weights and --inception-resize set the Inception "
                             "features; add --features inception")
        for name in ("num_examples", "num_samples", "grid_size", "mode_samples", "steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if self.importance_samples < 0:
            raise ValueError(f"--importance-samples must be >= 0, got {self.importance_samples}")
        if self.out is not None and not self.out.endswith(".json"):
            raise ValueError(f"--out names the report's JSON file (the markdown and images go "
                             f"beside it), so it must end in .json, got {self.out}")
        if self.num_samples is not None and self.num_samples < MIN_QUALITY_SET:
            raise ValueError(f"--num-samples must be at least {MIN_QUALITY_SET} (density and "
                             f"coverage use k = 5 neighbours), got {self.num_samples}")
        if self.quality is False and self.num_samples is not None:
            raise ValueError("--num-samples sets the sample-quality metrics' samples, which "
                             "--no-quality turns off; drop one of them")
        if (self.quality and self.num_examples is not None
                and self.num_examples < MIN_QUALITY_SET):
            raise ValueError(f"--quality compares samples with the first --num-examples "
                             f"examples, which must be at least {MIN_QUALITY_SET}, got "
                             f"{self.num_examples}")

    def command(self, workdir: str) -> str:
        """The ``gen-jax eval`` command line that reproduces these settings."""
        parts = ["gen-jax eval", "--workdir", str(workdir)]
        defaults = EvalSettings()
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value == getattr(defaults, field.name):
                continue
            flag = "--" + field.name.replace("_", "-")
            if isinstance(value, bool):
                parts.append(flag if value else "--no-" + field.name.replace("_", "-"))
            else:
                parts += [flag, shlex.quote(str(value))]
        return " ".join(parts)
