"""A translated data set: a split of one domain carried into the other by a trained run.

Written like a generated data set (:func:`gen_jax.apps.augment.save_generated`): an ``.npz``
of 8-bit images ``x`` of the output domain and the input examples' labels ``y``, and a JSON
record beside it naming the run, its step and config digest, the direction and split. Its
``data.name`` is the *output* domain, so ``gen-jax augment evaluate --generated FILE.npz``
trains a classifier on the translations and tests it on that domain's real test split: the
domain adaptation protocol of CyCADA and UNIT. ``--data.path FILE.npz`` trains on it too.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Literal

import numpy as np

from ... import data as gdata
from ... import provenance
from ...evaluation import match_channels, translate_images
from ...models import Translation, TranslationBack
from ...train import Run, load_split
from ..augment import RECORD_FORMAT, RECORD_VERSION, GeneratedSet

Mode = Literal["translate", "back", "untranslated"]


@dataclasses.dataclass(frozen=True)
class TranslateSettings:
    """What to translate.

    Attributes:
      split: the split of the input domain.
      mode: ``translate`` (the data's domain to the target, ``G``), ``back`` (the target to the
        data's domain, ``F``; CycleGAN) or ``untranslated`` (the source images themselves, their
        channels matched to the target's: the source-only baseline of domain adaptation).
      size: the first N examples of the split (None: all).
    """

    split: str = "train"
    mode: Mode = "translate"
    size: int | None = None

    def __post_init__(self):
        if self.mode not in ("translate", "back", "untranslated"):
            raise ValueError(f"--mode must be translate, back or untranslated, got {self.mode!r}")
        if self.size is not None and self.size < 1:
            raise ValueError(f"--size must be positive, got {self.size}")


def translated_set(run: Run, settings: TranslateSettings) -> GeneratedSet:
    """The translated split with its labels and record (one-line ``ValueError`` for a run
    that does not translate, a missing direction or unlabelled input)."""
    if not isinstance(run.model, Translation):
        raise ValueError(f"{run.model_name} does not translate between domains; pass the "
                         "--workdir of a pix2pix or cyclegan run")
    if settings.mode == "back" and not isinstance(run.model, TranslationBack):
        raise ValueError(f"{run.model_name} translates one way only; --mode back needs a "
                         "cyclegan run")
    info = run.info
    if settings.split not in info.splits:
        raise ValueError(f"{info.name} has no split {settings.split!r}; choose one of "
                         f"{', '.join(info.splits)}")
    ds = load_split(run.config, settings.split)
    inputs = ds.target if settings.mode == "back" else ds
    if inputs.label is None:
        raise ValueError(f"{inputs.info.name} has no labels to carry over to its translations")
    n = len(inputs) if settings.size is None else min(len(inputs), settings.size)
    x_in, label = inputs.x[:n], inputs.label[:n]
    out_info = info if settings.mode == "back" else info.target
    if settings.mode == "untranslated":
        images = match_channels(np.asarray(gdata.preprocess(x_in, None, info)),
                                out_info.shape[-1])
    else:
        images = translate_images(run, x_in, back=settings.mode == "back")
    x = np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
    what = {"translate": f"translations of {info.name} images to {info.target.name}",
            "back": f"translations of {info.target.name} images to {info.name}",
            "untranslated": f"{info.name} images as they are, beside {info.target.name}"}
    source = provenance.of_run(run, description=f"{what[settings.mode]} by a {run.model_name} "
                               "run (gen-jax translate)")
    counts = np.bincount(label, minlength=int(label.max()) + 1)
    record = {
        "format": RECORD_FORMAT, "version": RECORD_VERSION, "num": int(n),
        "counts": counts.tolist(), "shape": list(x.shape[1:]), "dtype": str(x.dtype),
        "source": {"run": source.run, "model": source.model, "step": source.step,
                   "config_sha256": source.config_sha256, "content": source.content},
        "data": {"name": out_info.name, "path": None, "labels_per_class": None,
                 "labels_seed": 0, "classes": None, "size": None},
        "translation": {"from": inputs.info.name, "to": out_info.name,
                        "split": settings.split, "mode": settings.mode},
        "settings": dataclasses.asdict(settings),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    return GeneratedSet(x, label.astype(np.int32), record)
