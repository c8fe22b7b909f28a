"""The human-readable side of an evaluation report: markdown tables and relative image links."""

from __future__ import annotations

from typing import Any

LIKELIHOOD_ROWS = (  # key, name, unit / direction
    ("nll", "negative log-likelihood", "nats, lower is better"),
    ("bpd", "bits per dimension", "lower is better"),
    ("elbo", "ELBO", "nats, higher is better"),
    ("elbo_bpd", "-ELBO in bits per dimension", "lower is better"),
    ("iwae_bound", "IWAE bound (training objective's K)", "nats, higher is better"),
    ("nll_is", "importance-sampled NLL", "nats, lower is better"),
    ("nll_is_stderr", "its standard error", "nats"),
    ("nll_is_bpd", "importance-sampled NLL in bits per dimension", "lower is better"),
)

MODE_ROWS = (
    ("modes", "modes captured", "of num_modes; higher is better"),
    ("high_quality", "high-quality fraction", "within 3 std of a mode (toy sets)"),
    ("kl", "reverse KL to uniform", "nats, lower is better"),
    ("min_mode_share", "smallest captured mode's share", "uniform: 1 / num_modes"),
    ("max_mode_share", "largest mode's share", "uniform: 1 / num_modes"),
)

QUALITY_ROWS = (
    ("fd", "Frechet distance", "lower is better"),
    ("kid_mean", "KID", "lower is better"),
    ("kid_std", "KID standard deviation over subsets", ""),
    ("kid_subset_size", "KID subset size", "samples per set in each subset"),
    ("precision", "precision (k=3)", "fidelity, higher is better"),
    ("recall", "recall (k=3)", "diversity, higher is better"),
    ("density", "density (k=5)", "fidelity, about 1 for real data"),
    ("coverage", "coverage (k=5)", "diversity, higher is better"),
    ("classifier_score", "classifier score", "higher is better; at most the class count"),
    ("authenticity", "authenticity vs the training set", "higher: fewer copies"),
    ("memorized_fraction", "memorized fraction vs the training set", "lower: fewer copies"),
)


def _number(value: Any) -> str:
    if value is None:  # e.g. the KL of an empty mode histogram
        return "undefined"
    if isinstance(value, int):
        return str(value)
    return f"{value:.6g}" if abs(value) < 1e5 else f"{value:.1f}"


def _table(section: dict[str, Any], rows, reference: dict[str, Any] | None = None) -> list[str]:
    """A metric table; with ``reference``, a column of the same metrics on real data."""
    if reference is None:
        lines = ["| metric | value | |", "| --- | ---: | --- |"]
    else:
        lines = ["| metric | model | real data | |", "| --- | ---: | ---: | --- |"]
    for key, name, meaning in rows:
        if key not in section:
            continue
        real = "" if reference is None else f" {_number(reference.get(key))} |"
        if reference is not None and key not in reference:
            real = " |"
        lines.append(f"| {name} | {_number(section[key])} |{real} {meaning} |")
    return lines


REAL_ROW_NOTE = (
    "The real-data column is the scale: the {split} split's real images scored as if they "
    "were samples ({n} of them) against {m} training images, novelty against the whole "
    "training set. A model is as good as real data where its column matches; better means "
    "closer to that column, not past it.")


def markdown_report(report: dict[str, Any]) -> str:
    """The markdown page of a ``gen-jax eval`` report (images linked relative to the page)."""
    split, lik, quality = report["split"], report["likelihood"], report["sample_quality"]
    n = int(report.get("num_examples", 0))
    decay = report.get("ema_decay")
    params = "the trained parameters" if decay is None else f"EMA parameters, decay {decay:g}"
    lines = [
        f"# Evaluation: {report['model']} on {report['dataset']}, step {report['step']}",
        "",
        f"- run: `{report['workdir']}`",
        f"- command: `{report['command']}`",
        f"- date: {report['date']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v),
        f"- parameters: {params}",
    ]
    if report.get("card"):
        lines.append(f"- model card: [{report['card']}]({report['card']})")
    lines += [
        "",
        f"## Likelihood ({split} split, {n} examples)",
        "",
    ]
    if lik["kind"] != "none":
        lines += _table(lik, LIKELIHOOD_ROWS) + [""]
    lines += [lik["note"], ""]
    classes = report.get("classification")
    if classes:
        lines += [f"## Classification ({split} split, {classes['num_examples']} examples)", "",
                  "| metric | value |", "| --- | --- |",
                  f"| error | {100 * classes['error']:.2f}% ± "
                  f"{100 * classes['error_stderr']:.2f}% |",
                  f"| accuracy | {100 * classes['accuracy']:.2f}% |", "", classes["note"], ""]
    lines += _translation_lines(report.get("translation"), split)
    lines += ["## Sample quality", ""]
    if "skipped" in quality:
        lines += [f"Skipped: {quality['skipped']}", ""]
    else:
        lines += [f"{quality['num_samples']} samples ({params}) against the first "
                  f"{quality['num_reference']} {split} images, novelty against "
                  f"{quality['num_train']} training images; {_features_note(quality)}", ""]
        real = quality.get("real_data")
        lines += _table(quality, QUALITY_ROWS, real) + [""]
        if real is not None:
            lines += [REAL_ROW_NOTE.format(split=split, n=real["num_samples"],
                                           m=real["num_reference"]), ""]
        counts = quality.get("class_counts")
        if counts is not None:
            lines += ["Samples per predicted class: "
                      + ", ".join(f"{i}: {int(v)}" for i, v in enumerate(counts)), ""]
    modes = report.get("mode_coverage", {})
    if "skipped" not in modes and modes:
        lines += ["## Mode coverage", "",
                  f"{modes['num_samples']} samples ({params}), {modes['num_modes']} "
                  f"modes, scored as in {modes['protocol']}.", ""]
        lines += _table(modes, MODE_ROWS) + [""]
    elif report["dataset"] in ("ring8", "ring8_r1", "grid25", "stacked_mnist"):
        lines += ["## Mode coverage", "", f"Skipped: {modes.get('skipped')}", ""]
    images = report["images"]
    for kind in ("samples", "reconstructions"):
        if kind in images:
            caption = ("Samples" if kind == "samples"
                       else f"{split.capitalize()} examples, each followed by its "
                            "reconstruction")
            lines += [f"## {kind.capitalize()}", "", f"![{caption}]({images[kind]})", ""]
    if "neighbours" in images:
        lines += ["## Nearest training images", "",
                  f"![closest generated/training pairs]({images['neighbours']})", "",
                  "Top row: the generated samples closest to the training set (in the "
                  "features above), closest first; bottom row: the nearest training image of each. "
                  "Near-duplicates here are memorized training examples.", ""]
    return "\n".join(lines)


def _features_note(quality: dict[str, Any]) -> str:
    """Which features the sample-quality metrics compared."""
    if "inception" in quality:
        c = quality["inception"]
        return (f"features of the FID Inception network (weights sha256 "
                f"`{str(c['sha256'])[:12]}`, {c['resize']} resize"
                f"{', 8-bit' if c['quantize'] else ''}): the Frechet distance is the FID, "
                "comparable with published values at the same sample count and reference set.")
    c = quality["classifier"]
    return (f"features of the {c['dataset']} classifier `{c['arch_hash']}` (test accuracy "
            f"{c['test_accuracy']:.4f}).")


SUMMARY_QUALITY = ("fd", "kid_mean", "precision", "recall", "density", "coverage",
                   "classifier_score", "memorized_fraction")


def summary_table(report: dict[str, Any], paths: tuple[str, ...] = ()) -> str:
    """A few lines for the terminal: the headline metrics with their direction (and, for sample
    quality, the real-data column), then where the whole report is."""
    lik, quality = report["likelihood"], report["sample_quality"]
    modes = report.get("mode_coverage") or {}
    rows: list[tuple[str, Any, Any, str]] = []
    for key, name, meaning in LIKELIHOOD_ROWS:
        if key in lik and lik[key] is not None:
            rows.append((name, lik[key], None, meaning))
    real = quality.get("real_data") or {}
    for key, name, meaning in QUALITY_ROWS:
        if key in SUMMARY_QUALITY and key in quality:
            rows.append((name, quality[key], real.get(key), meaning))
    for key, name, meaning in MODE_ROWS:
        if key in modes:
            rows.append((name, modes[key], None, meaning))
    head = (f"{report['model']} on {report['dataset']}, step {report['step']}, "
            f"{report['split']} split")
    lines = [head]
    if rows:
        width = max(len(r[0]) for r in rows)
        with_real = any(r[2] is not None for r in rows)
        title = f"  {'metric':<{width}}  {'model':>11}" + (f"  {'real data':>11}" if with_real
                                                          else "")
        lines.append(title)
        for name, value, ref, meaning in rows:
            cell = f"  {name:<{width}}  {_number(value):>11}"
            if with_real:
                cell += f"  {_number(ref) if ref is not None else '':>11}"
            lines.append(f"{cell}  {meaning}")
    if "skipped" in quality:
        lines.append(f"sample quality skipped: {quality['skipped']}")
    lines += [f"report: {', '.join(paths)}"] if paths else []
    return "\n".join(lines)


def _translation_lines(section: dict[str, Any] | None, split: str) -> list[str]:
    """The translation section's table (nothing for a model of one domain)."""
    if not section:
        return []
    if "skipped" in section:
        return ["## Translation", "", f"Skipped: {section['skipped']}", ""]

    def cell(row):
        return f"{100 * row['accuracy']:.2f}% ± {100 * row['stderr']:.2f}%"

    ceiling = section.get("classifier_test_accuracy")
    return [f"## Translation to {section['target']} ({split} split, "
            f"{section['num_examples']} examples)", "",
            "| images | frozen classifier's accuracy |", "| --- | --- |",
            f"| translated | {cell(section['translated'])} |",
            f"| untranslated source | {cell(section['untranslated'])} |",
            f"| {section['target']} test images | "
            f"{'n/a' if ceiling is None else f'{100 * ceiling:.2f}%'} |", "",
            section["note"], ""]
