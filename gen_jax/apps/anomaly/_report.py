"""How well a detector separates labelled normal and anomalous examples, as JSON, markdown, a
ROC curve and the most and least anomalous examples."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ... import metrics
from ..._files import write_atomic
from ...data import ArrayDataset
from ...models import ExactLikelihood, LikelihoodBound
from ...provenance import of_run
from ...provenance import save_png as provenance_png
from ...train import HOLDOUT, Run, image_grid, load_split, own_data, save_png, standardizer
from ..score import score_examples
from ._detector import Detector, anomalous, scores_of

NUM_SHOWN = 16


def detection_report(run: Run, detector: Detector, ds: ArrayDataset, out: str | Path, *,
                     what: str, batch_size: int = 256,
                     typicality: int | None = None) -> dict[str, Any]:
    """Scores ``ds``, measures the detector against its labels and writes ``out`` (JSON),
    ``out`` with ``.md``, ``*_roc.png`` and the most/least anomalous examples (``*_most.png``
    and ``*_least.png`` for images; ``*_most.csv`` and ``*_least.csv`` for vectors).

    With ``typicality=M``, also Nalisnick et al.'s typicality test on batches of ``M`` (the
    entropy from the training examples, the threshold from held-out normal ones at level
    0.01): the batch-level AUROC between batches of normal and of anomalous examples, and the
    share of each flagged.

    Raises:
      ValueError: the data have no labels, or only one kind (normal or anomalous).
    """
    if ds.label is None:
        raise ValueError(f"{what} has no labels, so nothing says which examples are anomalous: "
                         "report on labelled data (a labelled split, a table with its label "
                         "column)")
    truth = anomalous(ds.label, detector.normal_classes)
    if truth.all() or not truth.any():
        kind = "anomalous" if truth.all() else "normal"
        raise ValueError(f"every one of the {len(truth)} examples of {what} is {kind}: AUROC "
                         "and the other measures need both normal and anomalous examples")
    scores = scores_of(run, detector, ds, batch_size=batch_size)
    found = metrics.detection_metrics(scores, truth, detector.threshold)
    batches = None
    if typicality is not None:
        batches = _typicality(run, ds, truth, typicality, detector.seed, batch_size)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = {"roc": _roc_png(run, scores, truth, found,
                             out.with_name(f"{out.stem}_roc.png"))}
    files |= _examples(run, ds, scores, out)
    report = {"data": what, "num_examples": int(len(truth)), "num_anomalous": int(truth.sum()),
              **found.to_json(), "rule": detector.rule, "rate": detector.rate,
              "correction": detector.correction, "score": detector.score,
              "normal_classes": (None if detector.normal_classes is None
                                 else list(detector.normal_classes)),
              "model": run.model_name, "typicality": batches,
              "files": {k: Path(v).name for k, v in files.items()}}
    write_atomic(out, json.dumps(report, indent=2) + "\n")  # a kill leaves the old or the new
    write_atomic(out.with_suffix(".md"), _markdown(report))
    return report


def _typicality(run: Run, ds: ArrayDataset, truth: np.ndarray, batch_size: int, seed: int,
                score_batch: int) -> dict[str, Any]:
    if not isinstance(run.model, ExactLikelihood | LikelihoodBound):
        raise ValueError(f"the typicality test needs a likelihood, and {run.model_name} has "
                         "none: use a flow, a VAE or PPCA")
    cfg = run.config
    if not cfg.data.holdout_fraction:
        raise ValueError("the typicality test sets its threshold on held-out normal data: fit "
                         "the detector with --holdout (and --fpr)")
    nll = {name: score_examples(run, load_split(cfg, split), batch_size=score_batch, seed=seed)
           for name, split in (("train", cfg.data.train_split), ("held", HOLDOUT))}
    test = metrics.TypicalityTest.fit(nll["train"], nll["held"], batch_size, alpha=0.01,
                                      seed=seed)
    scores = score_examples(run, ds, batch_size=score_batch, seed=seed)
    normal = metrics.batch_statistics(test, scores[truth == 0], 500, seed=seed)
    odd = metrics.batch_statistics(test, scores[truth == 1], 500, seed=seed + 1)
    return {"batch_size": batch_size, "alpha": test.alpha, "entropy": test.entropy,
            "threshold": test.threshold,
            "batch_auroc": metrics.auroc(np.r_[normal, odd], np.r_[np.zeros(500), np.ones(500)]),
            "flagged_normal": float(np.mean(normal > test.threshold)),
            "flagged_anomalous": float(np.mean(odd > test.threshold))}


def _roc_png(run: Run, scores: np.ndarray, truth: np.ndarray, found, path: Path) -> Path:
    import matplotlib  # noqa: PLC0415 -- only the report draws

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # noqa: PLC0415

    fpr, tpr, _ = metrics.roc_curve(scores, truth)
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    ax.plot(fpr, tpr, lw=1.5, label=f"AUROC {found.auroc:.4f}")
    ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="grey", label="chance")
    if found.false_positive_rate is not None:
        ax.plot([found.false_positive_rate], [found.recall], "o", color="C3",
                label=f"threshold: FPR {found.false_positive_rate:.3f}, TPR {found.recall:.3f}")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    with Image.open(buffer) as image:
        return provenance_png(image.convert("RGB"), path, of_run(
            run, "chart", "ROC curve of a gen_jax anomaly detector"))


def _examples(run: Run, ds: ArrayDataset, scores: np.ndarray, out: Path) -> dict[str, Path]:
    order = np.argsort(-scores, kind="mergesort")
    shown = {"most": order[:NUM_SHOWN], "least": order[::-1][:NUM_SHOWN]}
    files = {}
    if ds.x.ndim == 4:  # images: grids, most anomalous first
        levels = run.info.num_levels
        for name, rows in shown.items():
            x = ds.x[rows].astype(np.float32)
            x = x / (levels - 1) if levels else (x - x.min()) / max(np.ptp(x), 1e-12)
            grid = image_grid(np.clip(x, 0.0, 1.0), ncols=8)
            factor = max(1, 28 // x.shape[1])
            files[name] = save_png(grid.repeat(factor, 0).repeat(factor, 1),
                                   out.with_name(f"{out.stem}_{name}.png"), of_run(
                                       run, "real", f"the {name} anomalous examples of a data "
                                       "set under a gen_jax anomaly detector"))
        return files
    own = own_data(run.config)
    columns = list(own.columns) if own is not None and own.columns else [
        f"x{i}" for i in range(int(np.prod(ds.x.shape[1:])))]
    scale = standardizer(run.config)
    for name, rows in shown.items():
        values = ds.x[rows].reshape(len(rows), -1).astype(np.float64)
        if scale is not None:
            values = scale.invert(values)
        path = out.with_name(f"{out.stem}_{name}.csv")
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["index", "score", *columns])
            writer.writerows([int(i), f"{scores[i]:.9g}", *(f"{v:.9g}" for v in row)]
                             for i, row in zip(rows, values, strict=True))
        files[name] = path
    return files


def _markdown(report: dict[str, Any]) -> str:
    rows = [("AUROC", "auroc", "0.5 is chance, 1 separates every anomaly from every normal"),
            ("AUPRC (average precision)", "auprc",
             f"chance: the anomalous share, {report['anomaly_rate']:.3f}"),
            ("FPR at 95% TPR", "fpr_at_95_tpr", "lower is better"),
            ("F1 at the threshold", "f1", "of the anomalous class"),
            ("precision at the threshold", "precision", ""),
            ("recall (TPR) at the threshold", "recall", ""),
            ("false-positive rate at the threshold", "false_positive_rate",
             f"the detector's {report['rule']} rule asked for {report['rate']:g}"
             if report["rule"] == "fpr" else "")]
    lines = [f"# Anomaly detection: {report['model']} on {report['data']}", "",
             f"{report['num_examples']} examples, {report['num_anomalous']} anomalous; "
             f"threshold {report['threshold']:.6g} ({report['rule']} {report['rate']:g}).", "",
             "| measure | value | |", "| --- | ---: | --- |"]
    lines += [f"| {name} | {report[key]:.4f} | {note} |" for name, key, note in rows
              if report.get(key) is not None]
    typical = report.get("typicality")
    if typical:
        lines += ["", f"Typicality test on batches of {typical['batch_size']} (Nalisnick et al. "
                  f"2019; level {typical['alpha']:g}): batch AUROC {typical['batch_auroc']:.4f}, "
                  f"normal batches flagged {typical['flagged_normal']:.3f}, anomalous batches "
                  f"flagged {typical['flagged_anomalous']:.3f}."]
    files = report["files"]
    lines += ["", f"![ROC curve]({files['roc']})", ""]
    for name in ("most", "least"):
        if files[name].endswith(".png"):
            lines += [f"## The {name} anomalous examples", "", f"![{name}]({files[name]})", ""]
        else:
            lines += [f"- the {NUM_SHOWN} {name} anomalous rows: `{files[name]}`"]
    return "\n".join(lines) + "\n"
