"""Typed experiment configuration: frozen dataclasses, one per concern.

An experiment is ``ExperimentConfig(model=..., data=..., optim=..., train=...)``; the model part is
the family's own config class (e.g. :class:`gen_jax.models.VAEConfig`). Experiment files under
``experiments/`` are Python modules with a ``config()`` function returning one; the command line
overrides any field (``--train.steps 500 --model.latent-dim 8``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import types
import typing
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from ._files import write_atomic

M = TypeVar("M")


def _positive(name: str, value: int) -> None:
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which data to train on and how to present it to the model."""

    name: str = "digits"
    """Data set name: digits, mnist, fashion_mnist, binarized_mnist, cifar10, svhn,
    stacked_mnist, textured_mnist, digits28, ring8, ring8_r1, grid25, two_moons, checkerboard;
    molecules as token sequences: moses, moses_selfies, qm9, qm9_selfies. Ignored when
    data.path is set."""
    path: str | None = None
    """Your own data instead of a named set: a folder of PNG/JPEG/BMP images (one sub-folder
    per class for labels; train/ and test/ sub-folders for splits), an .npy/.npz file (keys x
    and y, or x_train, y_train, x_test, y_test), a .csv/.parquet table of numeric columns, or a
    SMILES file of molecules (.smi, or a .csv with a SMILES column)."""
    image_size: int | None = None
    """Own image folders: resize the shorter side and center-crop to this square size (needed
    when the images differ in size)."""
    label_column: str | None = None
    """Own tables: the column holding the labels (any values; None: unlabelled)."""
    test_fraction: float = 0.1
    """Own data without its own splits: the fraction held out as the test split (fixed)."""
    standardize: bool | None = None
    """Own continuous data: scale each feature to zero mean and unit variance with the
    training split's statistics, kept in the run (None: tables yes, arrays no)."""
    data_dir: str | None = None
    """Folder of raw data files (default: $GEN_JAX_DATA_DIR; TFDS downloads when neither is set)."""
    tfds_dir: str | None = None
    """Where prepared TFDS files live (default: $GEN_JAX_TFDS_DIR, then TFDS's own default)."""
    batch_size: int = 128
    """Global batch size, split over all devices and processes."""
    binarize: bool = False
    """Dynamic binarization: a fresh Bernoulli draw of every pixel at every step."""
    dequantize: bool | None = None
    """Uniform dequantization of discrete data: (x + u) / levels with u ~ U[0, 1). None
    (default): the model family decides (flows dequantize discrete data, the others don't)."""
    train_split: str = "train"
    eval_split: str = "test"
    perturb: float = 0.0
    """Discrete data: replace each value by a uniformly random level with this probability at
    every step (Ren et al. 2019's background model for likelihood ratios; 0: off)."""
    classes: tuple[int, ...] | None = None
    """Keep only the examples of these classes, in every split (e.g. the normal classes of an
    anomaly detector; None: all). Labels keep their values."""
    holdout_fraction: float = 0.0
    """Hold out this fraction of the training split (a fixed random draw, after the class
    selection) as split 'holdout', never trained on: what a detector's threshold is set on."""
    size: int | None = None
    """Toy sets and stacked_mnist: number of examples generated. Real sets: keep only the first N
    training examples (default: all)."""
    labels_per_class: int | None = None
    """Scarce labels: keep the labels of only this many training examples per class, a
    class-balanced draw by data.labels_seed (gen_jax.data.labelled_subset), after the class
    selection and before the holdout (which then comes from the labelled pool). Families that
    learn from unlabelled examples too (m2, m1m2, ssl_gan) train on the whole split, the examples
    outside the draw labelled -1; the others train on the labelled subset (None: every
    label)."""
    labels_seed: int = 0
    """Seed of the data.labels_per_class draw."""
    target: str | None = None
    """Translation across domains (pix2pix, cyclegan): the second domain, a named data set
    with the same split names (e.g. textured_mnist or digits28 beside mnist), or your own data
    by path (read with the data.* own-data settings; e.g. a folder of images whose file names
    match data.path's, for pairs). Every batch then carries its examples too."""
    paired: bool = False
    """With data.target: the two sets correspond example for example (mnist and
    textured_mnist: each digit and its textured copy), as pix2pix needs; otherwise the target
    is an unrelated collection of the other domain, drawn on its own (CycleGAN)."""

    def __post_init__(self):
        _positive("data.batch_size", self.batch_size)
        if self.binarize and self.dequantize:
            raise ValueError("data.binarize and data.dequantize exclude each other; pick one")
        if self.size is not None:
            _positive("data.size", self.size)
        if self.path is None:
            for field in ("image_size", "label_column", "standardize"):
                if getattr(self, field) is not None:
                    raise ValueError(f"data.{field} applies to your own data: pass data.path "
                                     "too, or drop it")
        if self.image_size is not None:
            _positive("data.image_size", self.image_size)
        if not 0.0 <= self.perturb < 1.0:
            raise ValueError(f"data.perturb is a probability in [0, 1), got {self.perturb}")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError(f"data.holdout_fraction must lie in [0, 1), got "
                             f"{self.holdout_fraction}")
        if self.labels_per_class is not None:
            _positive("data.labels_per_class", self.labels_per_class)
        if self.classes is not None and (not self.classes or min(self.classes) < 0
                                         or len(set(self.classes)) != len(self.classes)):
            raise ValueError(f"data.classes must be distinct non-negative class indices, got "
                             f"{list(self.classes)}")
        if self.paired and self.target is None:
            raise ValueError("data.paired says how data.target corresponds to the data: set "
                             "data.target too, or drop it")
        if self.target is not None and (self.classes is not None or self.holdout_fraction
                                        or self.labels_per_class is not None):
            raise ValueError("data.target (a translation pair) does not combine with "
                             "data.classes, data.holdout_fraction or data.labels_per_class: "
                             "drop those")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"data.test_fraction must lie strictly between 0 and 1, got "
                             f"{self.test_fraction}")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """An optax optimizer with a learning-rate schedule, clipping and parameter EMA."""

    optimizer: Literal["adam", "adamw", "adamax", "sgd", "rmsprop", "lamb"] = "adam"
    learning_rate: float = 1e-3
    schedule: Literal["constant", "cosine", "warmup_cosine", "exponential"] = "constant"
    """After an optional linear warm-up: constant, or a cosine/exponential decay to
    learning_rate * end_factor (warmup_cosine is cosine; kept as a familiar name)."""
    warmup_steps: int = 0
    decay_steps: int | None = None
    """Length of the decay (default: the number of training steps)."""
    end_factor: float = 0.0
    """Final learning rate as a fraction of the peak (cosine, warmup_cosine, exponential)."""
    b1: float = 0.9
    """First-moment decay (adam, adamw, adamax, lamb)."""
    b2: float = 0.999
    """Second-moment decay (adam family, lamb); the squared-gradient decay of rmsprop."""
    momentum: float = 0.0
    """Momentum of sgd and rmsprop (0: none)."""
    eps: float = 1e-8
    weight_decay: float = 0.0
    grad_clip_norm: float | None = None
    """Clip gradients to this global norm (None: no clipping)."""
    ema_decay: float | None = None
    """Keep an exponential moving average of the parameters with this decay (None: no EMA)."""

    def __post_init__(self):
        if not self.learning_rate > 0:
            raise ValueError(f"optim.learning_rate must be positive, got {self.learning_rate}")
        if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"optim.ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.grad_clip_norm is not None and not self.grad_clip_norm > 0:
            raise ValueError(f"optim.grad_clip_norm must be positive, got {self.grad_clip_norm}")
        if self.warmup_steps < 0:
            raise ValueError(f"optim.warmup_steps must be >= 0, got {self.warmup_steps}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How long to train, where to write, and how to run on the available devices."""

    steps: int = 2000
    seed: int = 0
    workdir: str = "runs/default"
    """Output folder: checkpoints, metrics.jsonl, TensorBoard events, sample grids, config."""
    resume: bool = True
    """Resume from the latest checkpoint in workdir when there is one."""
    log_every: int = 100
    eval_every: int = 1000
    num_eval_examples: int | None = 2000
    """Test examples used by the periodic evaluation (None: the whole split)."""
    sample_every: int = 1000
    num_samples: int = 64
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    strategy: Literal["jit", "pmap"] = "jit"
    """jit: jax.jit over a device mesh (default); pmap: the compatibility strategy."""
    compute_dtype: Literal["float32", "bfloat16"] = "float32"
    """Activation dtype; parameters stay float32 (bfloat16 is for accelerators)."""
    max_consecutive_nonfinite: int = 20
    """Stop when this many steps in a row had a non-finite loss or gradient."""
    profile_steps: tuple[int, int] | None = None
    """Write a jax.profiler trace of steps [start, stop) to workdir/profile."""
    progress: bool = True
    """Show a progress bar (process 0 only)."""
    trackers: tuple[Literal["wandb", "mlflow"], ...] = ()
    """Experiment trackers that also get every logged metric, each an extra (pip install
    'gen-jax[wandb]' / 'gen-jax[mlflow]'). wandb: $WANDB_PROJECT (default gen-jax),
    WANDB_MODE=offline logs locally; mlflow: $MLFLOW_TRACKING_URI (default a file store in
    workdir/mlruns), $MLFLOW_EXPERIMENT_NAME (default gen-jax). A resumed run continues its
    tracker run."""

    def __post_init__(self):
        if len(set(self.trackers)) != len(self.trackers):
            raise ValueError(f"train.trackers names a tracker twice: {list(self.trackers)}")
        for name in ("steps", "log_every", "eval_every", "sample_every", "checkpoint_every",
                     "keep_checkpoints", "num_samples", "max_consecutive_nonfinite"):
            _positive(f"train.{name}", getattr(self, name))
        if self.num_eval_examples is not None:
            _positive("train.num_eval_examples", self.num_eval_examples)
        if self.profile_steps is not None and not 0 < self.profile_steps[0] < self.profile_steps[1]:
            raise ValueError(f"train.profile_steps must be START STOP with 0 < START < STOP, got "
                             f"{self.profile_steps}")


ACCOUNTANTS = ("rdp", "pld")


@dataclasses.dataclass(frozen=True)
class PrivacyConfig:
    """Differentially private training (DP-SGD, Abadi et al. 2016): each step takes a Poisson
    sample of the training set (each example with probability batch_size / N), clips every
    example's gradient to ``clip_norm``, adds Gaussian noise of standard deviation
    ``noise_multiplier * clip_norm`` to their sum, and divides by the expected batch size.
    Off unless ``target_epsilon`` or ``noise_multiplier`` is set."""

    target_epsilon: float | None = None
    """Train to this epsilon at ``delta`` after train.steps steps: the noise multiplier is
    found by the accountant."""
    noise_multiplier: float | None = None
    """The noise multiplier itself (instead of target_epsilon); epsilon is then reported."""
    delta: float = 1e-5
    """The delta of (epsilon, delta)-DP; below 1 / N (training examples) to mean anything."""
    clip_norm: float = 1.0
    """Each example's gradient is clipped to this L2 norm."""
    accountant: Literal["rdp", "pld"] = "rdp"
    """dp-accounting's Renyi-DP accountant (rdp: what most papers report) or its privacy-loss
    distribution accountant (pld: tighter)."""
    norm_chunk: int = 32
    """How many examples' gradients are formed at once to measure their norms (0: the whole
    batch). Only speed and memory depend on it: 32 suits CPUs; on an accelerator the whole
    batch (0) is often faster when it fits."""

    @property
    def enabled(self) -> bool:
        return self.target_epsilon is not None or self.noise_multiplier is not None

    def __post_init__(self):
        if self.target_epsilon is not None and self.noise_multiplier is not None:
            raise ValueError("set privacy.target_epsilon or privacy.noise_multiplier, not both")
        for name in ("target_epsilon", "noise_multiplier", "clip_norm"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"privacy.{name} must be positive, got {value}")
        if not 0.0 < self.delta < 1.0:
            raise ValueError(f"privacy.delta must lie in (0, 1), got {self.delta}")
        if self.norm_chunk < 0:
            raise ValueError(f"privacy.norm_chunk must be >= 0 (0: the whole batch), got "
                             f"{self.norm_chunk}")
        if self.accountant not in ACCOUNTANTS:
            raise ValueError(f"privacy.accountant must be one of {', '.join(ACCOUNTANTS)}, got "
                             f"{self.accountant!r}")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig(Generic[M]):
    """A whole experiment: model family config plus data, optimizer, training and privacy
    settings."""

    model: M
    data: DataConfig = DataConfig()
    optim: OptimConfig = OptimConfig()
    train: TrainConfig = TrainConfig()
    privacy: PrivacyConfig = PrivacyConfig()


def load_config_file(path: str | Path) -> ExperimentConfig:
    """Imports an experiment file and returns its ``config()``.

    Raises:
      ValueError: the file is missing or defines no ``config()``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file {path} does not exist; pass the path of an experiment file")
    spec = importlib.util.spec_from_file_location(f"_gen_jax_config_{path.stem}", path)
    if path.suffix != ".py" or spec is None:
        raise ValueError(f"config file {path} is not a Python file; pass an experiment file "
                         "(e.g. experiments/flow_mnist/config.py) defining config()")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # a mistake in the user's file: one line naming it, not a traceback
        message = " ".join(str(e).split())
        raise ValueError(f"config file {path} failed to run: {type(e).__name__}: {message}") from e
    if not callable(getattr(module, "config", None)):
        raise ValueError(f"config file {path} defines no config() function returning an "
                         "ExperimentConfig")
    cfg = module.config()
    if not isinstance(cfg, ExperimentConfig):
        raise ValueError(f"config() in {path} returned {type(cfg).__name__}, not ExperimentConfig")
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass."""
    return dataclasses.asdict(cfg)


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuilds a (nested) config dataclass from :func:`to_dict`'s output, with types restored."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name in data:
            kwargs[field.name] = _convert(hints[field.name], data[field.name])
    return cls(**kwargs)


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is not type(None):
                return _convert(arg, value)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value, strict=True))
    return value


def save_json(cfg: ExperimentConfig, model_name: str, path: str | Path) -> None:
    """Writes the config (and its model family's name) next to a run's checkpoints."""
    write_atomic(path, json.dumps({"model_name": model_name, **to_dict(cfg)}, indent=2))


def load_json(path: str | Path, model_config_cls: type) -> ExperimentConfig:
    """Reads a config written by :func:`save_json`."""
    data = json.loads(Path(path).read_text())
    data.pop("model_name", None)
    return ExperimentConfig(
        model=from_dict(model_config_cls, data["model"]),
        data=from_dict(DataConfig, data["data"]),
        optim=from_dict(OptimConfig, data["optim"]),
        train=from_dict(TrainConfig, data["train"]),
        privacy=from_dict(PrivacyConfig, data.get("privacy", {})),
    )


def read_model_name(path: str | Path) -> str:
    """The model family recorded by :func:`save_json`."""
    return json.loads(Path(path).read_text())["model_name"]
