"""The model card of an evaluated run (Mitchell et al. 2019, "Model Cards for Model
Reporting"): what the run knows about itself, written beside the evaluation report.

Every statement comes from the run (its config, data record, parameters), from the report
just computed, or from ``WORKDIR/audit.json`` when ``gen-jax audit`` has been run; what the run
cannot know (what it is for) is said to be missing, with the option that supplies it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from ..models import ExactLikelihood, LikelihoodBound, Sampling, Translation
from ..provenance import config_digest

if TYPE_CHECKING:
    from ..train import Run

_REFERENCES = {
    "fd": "Frechet distance (Heusel et al. 2017) on the features named above",
    "kid_mean": "kernel inception distance (Binkowski et al. 2018)",
    "precision": "improved precision, k = 3 (Kynkaanniemi et al. 2019)",
    "recall": "improved recall, k = 3 (Kynkaanniemi et al. 2019)",
    "density": "density, k = 5 (Naeem et al. 2020)",
    "coverage": "coverage, k = 5 (Naeem et al. 2020)",
    "authenticity": "authenticity (Alaa et al. 2022)",
    "memorized_fraction": "share of samples inside a training example's 1-NN ball",
    "nll": "negative log-likelihood, nats per example",
    "bpd": "bits per dimension (Theis et al. 2016)",
    "elbo": "evidence lower bound, nats per example (Kingma & Welling 2014)",
    "nll_is": "importance-sampled NLL (Burda et al. 2016)",
    "translated_accuracy": "the target domain's frozen classifier on the translations "
                           "(as CyCADA, Hoffman et al. 2018)",
    "l1": "mean absolute difference from the counterpart, in [0, 1]",
    "psnr": "peak signal-to-noise ratio against the counterpart, dB",
    "cycle_x": "round-trip error |F(G(x)) - x| (Zhu et al. 2017)",
}


def card_facts(run: Run, report: dict[str, Any], workdir: str | Path,
               intended_use: str | None) -> dict[str, Any]:
    """What the card says, as JSON: the run's details, training data, intended use, the
    report's headline metrics, privacy and memorization findings, limitations."""
    from ..train import data_name, learns_unlabelled, run_privacy  # noqa: PLC0415

    cfg = run.config
    params = run.strategy.unreplicated(run.state.params)
    train_split = cfg.data.train_split
    seen = run.info.splits.get(train_split)
    if cfg.data.size:
        seen = min(seen or cfg.data.size, cfg.data.size)
    audit = _audit(Path(workdir))
    dp = run_privacy(workdir, report["step"])
    quality = report["sample_quality"]
    memorization = {k: quality[k] for k in ("authenticity", "memorized_fraction")
                    if k in quality}
    return {
        "model": {"family": run.model_name, "step": report["step"],
                  "parameters": int(sum(np.size(x) for x in jax.tree.leaves(params))),
                  "config_sha256": config_digest(cfg), "ema_decay": report.get("ema_decay"),
                  "gen_jax": report["versions"].get("gen_jax")},
        "intended_use": intended_use,
        "training_data": {"dataset": data_name(cfg), "split": train_split, "examples": seen,
                          "classes": list(cfg.data.classes) if cfg.data.classes else None,
                          "own_data": cfg.data.path, "held_out_fraction":
                          cfg.data.holdout_fraction or None,
                          "labels_per_class": cfg.data.labels_per_class,
                          "learns_from_unlabelled": learns_unlabelled(cfg, run.model),
                          "target": cfg.data.target, "paired": cfg.data.paired},
        "evaluation_data": {"split": report["split"],
                            "examples": int(report.get("num_examples", 0))},
        "privacy": {"differential_privacy": dp, "audit": audit},
        "memorization": memorization or None,
        "limitations": _limitations(run, report, audit, dp is not None),
    }


def _audit(workdir: Path) -> dict[str, Any] | None:
    path = workdir / "audit.json"
    if not path.is_file():
        return None
    try:
        found = json.loads(path.read_text())
        return {"step": found["step"], "num": found["num"], "attacks": found["attacks"]}
    except (ValueError, KeyError, TypeError):
        return None  # not a gen-jax audit record: the card says no audit was found


def _limitations(run: Run, report: dict[str, Any], audit: dict[str, Any] | None,
                 private: bool) -> list[str]:
    """The limitations that follow from the run and the report."""
    out = []
    if isinstance(run.model, Translation):
        out.append(f"A {run.model_name} gives no likelihood: it cannot say how probable an "
                   "input is; its translations are measured by the target domain's classifier "
                   "and their per-example errors, not by how real they look to a person.")
        out.append("Translations are synthetic images: the images gen_jax writes say so in "
                   "their PNG metadata (gen_jax.provenance), which does not survive re-encoding.")
    elif not isinstance(run.model, ExactLikelihood | LikelihoodBound):
        out.append(f"A {run.model_name} gives no likelihood: it cannot say how probable an "
                   "input is, and its samples' quality is measured only by the feature "
                   "metrics.")
    quality = report["sample_quality"]
    if "classifier" in quality:
        out.append("Sample quality is measured on the features of the toolkit's own "
                   f"{quality['classifier']['dataset']} classifier: comparable between runs of "
                   "this toolkit, not with FIDs published in papers (use --features "
                   "inception).")
    if "num_samples" in quality and quality["num_samples"] < 10_000:
        out.append(f"The sample-quality metrics use {quality['num_samples']} samples; the "
                   "Frechet distance is biased upward at small sample counts, so compare it "
                   "only at equal counts.")
    if run.info.vocabulary is not None:
        out.append("Molecules and other token sequences: validity, novelty and chemistry "
                   "metrics are in `gen-jax molecules eval`, not in this report.")
    if run.config.data.size:
        out.append(f"Trained on the first {run.config.data.size} training examples only.")
    if audit is None:
        out.append("No membership-inference audit was found (`gen-jax audit`): what the model "
                   "reveals about its training examples is unmeasured.")
    elif audit["step"] != report["step"]:
        out.append(f"The audit was run at step {audit['step']}, the evaluation at step "
                   f"{report['step']}: run `gen-jax audit` again.")
    if not private:
        out.append("Trained without differential privacy: no formal guarantee bounds what the "
                   "parameters or samples reveal about individual training examples.")
    if isinstance(run.model, Sampling):
        out.append("Samples are synthetic: the images gen_jax writes say so in their PNG "
                   "metadata (gen_jax.provenance), which does not survive re-encoding.")
    return out


def card_markdown(facts: dict[str, Any], report: dict[str, Any]) -> str:
    """The model card as markdown."""
    model, data = facts["model"], facts["training_data"]
    lines = [f"# Model card: {model['family']} on {data['dataset']}, step {model['step']}", "",
             "## Model details", "",
             f"- family: {model['family']}; {model['parameters']:,} parameters; step "
             f"{model['step']}" + (f"; EMA decay {model['ema_decay']:g}"
                                   if model["ema_decay"] else ""),
             f"- config sha256: `{model['config_sha256']}`",
             f"- trained with gen_jax {model['gen_jax']}; card written {report['date']}", "",
             "## Intended use", "",
             facts["intended_use"] or "Not stated by whoever trained it: pass "
             "`gen-jax eval --intended-use \"...\"` to record it here.", "",
             "## Training data", ""]
    seen = data["examples"]
    lines.append(f"- {data['dataset']}, split `{data['split']}`"
                 + (f", {seen:,} examples" if seen is not None else "")
                 + (f", classes {data['classes']}" if data["classes"] else "")
                 + (f", {100 * data['held_out_fraction']:g}% held out"
                    if data["held_out_fraction"] else ""))
    if data.get("labels_per_class"):
        lines.append(f"- labels of {data['labels_per_class']} examples per class only"
                     + (" (the count above); every other training example was used "
                        "unlabelled" if data.get("learns_from_unlabelled") else
                        " (the count above); the other examples were not used"))
    if data.get("target"):
        lines.append(f"- translated into {data['target']}, "
                     + ("paired with it example for example" if data.get("paired") else
                        "an unpaired collection of that domain"))
    if data["own_data"]:
        lines.append(f"- read from `{data['own_data']}` (its fingerprint is kept in the run's "
                     "data.json)")
    ev = facts["evaluation_data"]
    lines += ["", "## Metrics", "", f"On the `{ev['split']}` split ({ev['examples']:,} examples; "
              "the full report is the evaluation's markdown beside this card):", "",
              "| metric | value | reference |", "| --- | ---: | --- |"]
    sources = {**report["likelihood"], **{k: v for k, v in report["sample_quality"].items()
                                          if not isinstance(v, dict | list)}}
    translation = report.get("translation") or {}
    if "translated" in translation:
        sources |= {"translated_accuracy": translation["translated"]["accuracy"],
                    **{k: report[k] for k in ("l1", "psnr", "cycle_x") if k in report}}
    for key, meaning in _REFERENCES.items():
        value = sources.get(key)
        if isinstance(value, int | float):
            lines.append(f"| {key} | {value:.6g} | {meaning} |")
    lines += ["", "## Privacy and memorization", ""]
    memo = facts["memorization"]
    if memo:
        lines.append("- memorization: " + ", ".join(f"{k.replace('_', ' ')} {v:.4g}"
                                                    for k, v in memo.items())
                     + " (samples against the training set; the report shows the closest "
                     "pairs)")
    audit = facts["privacy"]["audit"]
    if audit:
        lines.append(f"- membership inference (`gen-jax audit`, step {audit['step']}, "
                     f"{audit['num']} members against as many non-members): "
                     + "; ".join(f"{name} AUROC {r['auroc']:.3f}, TPR at 1% FPR "
                                 f"{r['tpr_at_1pct_fpr']:.3f}"
                                 for name, r in audit["attacks"].items()))
    else:
        lines.append("- membership inference: not audited (`gen-jax audit --workdir RUN`)")
    dp = facts["privacy"]["differential_privacy"]
    if dp:
        lines.append(f"- differential privacy (DP-SGD): epsilon {dp['epsilon']:.3g} at delta "
                     f"{dp['delta']:g} after {dp['steps']} steps ({dp['accountant']} "
                     f"accountant; noise multiplier {dp['noise_multiplier']:.4g}, clip norm "
                     f"{dp['clip_norm']:g}, sampling rate {dp['sampling_rate']:.4g})")
    else:
        lines.append("- differential privacy: none")
    lines += ["", "## Limitations", ""] + [f"- {text}" for text in facts["limitations"]]
    return "\n".join(lines) + "\n"
