"""``gen-jax eval``: a trained run's likelihood and sample-quality report, as JSON and markdown."""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from ..models import Sampling, SolverSampling, Translation
from ..provenance import of_run
from ._card import card_facts, card_markdown
from ._likelihood import classification_section, importance_nll, likelihood_section
from ._markdown import markdown_report
from ._modes import check_mode_settings, mode_section
from ._quality import load_quality_classifier, quality_section
from ._settings import EvalSettings
from ._translation import translation_section

if TYPE_CHECKING:
    from ..train import Run


PACKAGES = ("gen_jax", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that decide the numbers."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def evaluate_run(run: Run, workdir: str | Path, settings: EvalSettings, *,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Evaluates a trained run and writes its report.

    Writes ``OUT`` (default ``WORKDIR/eval_SPLIT.json``: every number, the settings, checkpoint
    step, date and package versions), ``OUT`` with suffix ``.md`` (the metric tables and the
    images), ``*_samples.png`` (a sample grid; reconstructions for a family without a prior) and
    ``*_neighbours.png`` (the generated samples closest to the training set over their nearest
    training images; only with sample-quality metrics) and ``*_card.md``, the model card
    (Mitchell et al. 2019: details, intended use, training data, metrics with references,
    privacy and memorization, limitations; also under ``model_card`` in the JSON).

    Args:
      run: a restored :class:`~gen_jax.train.Run` (:func:`gen_jax.train.load_run`).
      workdir: the run's folder.
      settings: what to evaluate.
      log: called with a short note as each section starts (the command line prints them).

    Returns:
      The JSON report: the model's own metrics averaged over the split at the top level (as
      before), plus ``likelihood``, ``classification`` (None for a model without a classifier
      of its own), ``translation`` (None for a model of one domain), ``sample_quality``,
      ``images``, ``settings``, ``command``,
      ``date``, ``versions``.

    Raises:
      ValueError / FileNotFoundError: bad settings for this run (one line).
    """
    from ..train import Evaluator, data_name  # noqa: PLC0415

    data = run.config.data
    if settings.split:
        if settings.split not in run.info.splits:
            raise ValueError(f"{data_name(run.config)} has no split {settings.split!r}; choose "
                             "one of "
                             f"{', '.join(run.info.splits)}")
        data = dataclasses.replace(data, eval_split=settings.split)
    cfg = dataclasses.replace(run.config, data=data)
    step = int(run.strategy.fetch(run.state.step))
    key = jax.random.fold_in(jax.random.PRNGKey(settings.seed), 1)  # the same data draws
    if not isinstance(run.model, Sampling) and settings.grid_size % 2:
        raise ValueError(f"a {run.model_name} run's grid shows examples beside their "
                         f"reconstructions, so --grid-size must be even, got {settings.grid_size}")
    check_mode_settings(run, settings)
    loaded = None if settings.quality is False else load_quality_classifier(run, settings)
    note = log or (lambda text: None)
    num = run.info.splits[data.eval_split]
    num = num if settings.num_examples is None else min(num, settings.num_examples)
    note(f"the model's metrics on {num} {data.eval_split} examples")
    means = Evaluator(run, cfg).evaluate(run.state, settings.num_examples, key=key)
    importance = None
    if settings.importance_samples:
        note(f"importance-sampled NLL, {settings.importance_samples} samples per example")
        importance = importance_nll(run, cfg, settings.importance_samples,
                                    num_examples=settings.num_examples, key=key)
    if settings.quality is not False and isinstance(run.model, Sampling):
        note("sample quality: samples, features, the model's and real data's metrics")
    quality = quality_section(run, cfg, settings, loaded)
    if isinstance(run.model, Translation):
        note("translation: the target domain's classifier on the translated images")
    translation = translation_section(run, cfg, settings)
    out = Path(settings.out or Path(workdir) / f"eval_{data.eval_split}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    note("images and mode coverage")
    images = _write_images(run, cfg, settings, quality, out)
    report = {
        "split": data.eval_split, "step": step, **means, **(importance or {}),
        "likelihood": likelihood_section(run, means, importance),
        "classification": classification_section(run, means, num),
        "translation": translation,
        "sample_quality": quality.section,
        "mode_coverage": mode_section(run, settings),
        "images": images,
        "sampler": _sampler_record(run.model),
        "model": run.model_name, "dataset": data_name(run.config), "workdir": str(workdir),
        # every number is of the EMA parameters when the run kept them (None: it did not)
        "ema_decay": run.config.optim.ema_decay or None,  # 0 keeps none
        "settings": dataclasses.asdict(settings),
        "command": settings.command(str(workdir)),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "versions": package_versions(),
    }
    report["model_card"] = card_facts(run, report, workdir, settings.intended_use)
    report = finite_or_none(report)
    card = out.with_name(f"{out.stem}_card.md")
    report["card"] = card.name
    out.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    out.with_suffix(".md").write_text(markdown_report(report))
    card.write_text(card_markdown(report["model_card"], report))
    return report


def _sampler_record(model: Any) -> dict[str, Any] | None:
    """The sampler behind every sample of the report (None: the family has no settings)."""
    if not isinstance(model, SolverSampling):
        return None
    settings = model.default_sampler()
    return {**dataclasses.asdict(settings), "nfe": model.sampler_nfe(settings)}


def finite_or_none(value: Any) -> Any:
    """``value`` with every non-finite float (e.g. the standard error of one example) replaced
    by None, so that the report is strict JSON (null)."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _write_images(run, cfg, settings: EvalSettings, quality, out: Path) -> dict[str, str]:
    """The sample grid and the nearest-neighbour panel beside ``out``; their file names."""
    from ..train import Evaluator, save_png, save_samples  # noqa: PLC0415

    names = {}
    grid = quality.samples
    if grid is not None and len(grid) >= settings.grid_size:
        grid = grid[:settings.grid_size]
    else:  # no quality samples, or fewer than the grid shows: draw the grid's own
        sample_cfg = dataclasses.replace(
            cfg, train=dataclasses.replace(cfg.train, num_samples=settings.grid_size))
        grid = Evaluator(run, sample_cfg).samples(
            run.state, jax.random.fold_in(jax.random.PRNGKey(settings.seed), 3))
    kind = ("samples" if isinstance(run.model, Sampling) else
            "translations" if isinstance(run.model, Translation) else "reconstructions")
    path = out.with_name(f"{out.stem}_{kind}.png")
    save_samples(np.asarray(grid, np.float32), path, provenance=Evaluator(run, cfg).provenance())
    names[kind] = path.name
    if quality.panel is not None:
        path = out.with_name(f"{out.stem}_neighbours.png")
        save_png(quality.panel, path, of_run(
            run, "mixed", "samples of a gen_jax model beside their nearest training examples"))
        names["neighbours"] = path.name
    return names
