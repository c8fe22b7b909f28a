"""``gen-jax watermark key | sample | detect | evaluate``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ... import provenance
from ...train import load_run
from .._report import write_report
from ._app import (
    EDITS,
    check_run,
    detect_images,
    key_for,
    robustness,
    to_uint8,
    watermarked_samples,
)
from ._tree_ring import TreeRingKey


def _common(parser: argparse.ArgumentParser, *, key: bool = True) -> None:
    parser.add_argument("--workdir", required=True, help="the run's output folder (a flow, "
                        "diffusion or flow_matching run on images)")
    if key:
        parser.add_argument("--key", required=True, help="the watermark key file "
                            "(gen-jax watermark key); keep it private")


def _read_images(paths: Sequence[str], shape: tuple[int, ...]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    h, w, c = shape
    out = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image = image.convert("L" if c == 1 else "RGB")
        except (FileNotFoundError, UnidentifiedImageError, OSError) as e:
            raise ValueError(f"cannot read image {path}: {e}") from None
        if image.size != (w, h):
            raise ValueError(f"{path} is {image.size[0]}x{image.size[1]}, the run makes {w}x{h} "
                             "images; resize it to the run's size first")
        pixels = np.asarray(image, np.float32) / 255.0
        out.append(pixels[..., None] if c == 1 else pixels)
    return np.stack(out)


def _key(args) -> None:
    run = load_run(args.workdir)
    check_run(run)
    key = TreeRingKey.generate(tuple(run.info.shape), args.radius, args.channel,
                               args.inner_radius)
    path = key.save(args.out)
    print(json.dumps({"key": str(path), "shape": list(key.shape), "radius": key.radius,
                      "inner_radius": key.inner_radius, "channel": key.channel,
                      "note": "keep the key private"}))


def _sample(args) -> None:
    run = load_run(args.workdir)
    key = key_for(run, TreeRingKey.load(args.key))
    images, labels = watermarked_samples(run, key, args.num, args.seed)
    out = Path(args.out)
    source = provenance.of_run(run, description=f"{run.model_name} sample from noise carrying "
                               "a Tree-Ring watermark (gen-jax watermark detect finds it)")
    for i, image in enumerate(to_uint8(images)):
        name = f"{i:05d}" + ("" if labels is None else f"_class{int(labels[i])}")
        provenance.save_png(image, out / f"{name}.png", source)
    print(json.dumps({"folder": str(out), "num": len(images), "watermark": "tree-ring"}))


def _detect(args) -> None:
    run = load_run(args.workdir)
    key = key_for(run, TreeRingKey.load(args.key))
    found = detect_images(run, key, _read_images(args.images, tuple(run.info.shape)))
    flags = found.watermarked(args.alpha)
    rows = [{"image": str(path), "watermarked": bool(flag), "log10_p": float(log_p),
             "cosine": float(cos)}
            for path, flag, log_p, cos in zip(args.images, flags, found.log10_p, found.cosine,
                                              strict=True)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        verdict = "watermarked" if row["watermarked"] else "no watermark found"
        print(f"{row['image']}: {verdict} (log10 p = {row['log10_p']:.2f}, cosine "
              f"{row['cosine']:.3f})")
    print(f"{int(flags.sum())} of {len(rows)} watermarked at false-positive rate {args.alpha}")


def _markdown(report: dict) -> str:
    lines = [f"# Tree-Ring watermark of {report['workdir']} (step {report['step']})", "",
             f"{report['num']} watermarked and {report['num']} clean samples (other noise), "
             f"rings {report['inner_radius']}..{report['radius']}; flagged when p < "
             f"{report['alpha']}, so the clean samples' rate should stay near it.", "",
             "| edit | TPR | FPR | AUROC | TPR at 1% FPR | median log10 p (marked / clean) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in report["edits"]:
        lines.append(f"| {r['edit']} | {r['tpr']:.3f} | {r['fpr']:.3f} | {r['auroc']:.3f} | "
                     f"{r['tpr_at_1pct_fpr']:.3f} | {r['median_log10_p_marked']:.1f} / "
                     f"{r['median_log10_p_clean']:.2f} |")
    return "\n".join(lines) + "\n"


def _evaluate(args) -> None:
    run = load_run(args.workdir)
    key = key_for(run, TreeRingKey.load(args.key))
    report = {"workdir": str(args.workdir), "model": run.model_name,
              "step": int(np.asarray(run.strategy.fetch(run.state.step))),
              **robustness(run, key, args.num, seed=args.seed, alpha=args.alpha,
                           edits=tuple(args.edits))}
    write_report(args.out or Path(args.workdir) / "watermark.json", report, _markdown(report))


def main(argv: Sequence[str]) -> int:
    """``gen-jax watermark key --workdir RUN --out KEY.json | sample --workdir RUN --key KEY.json
    --out DIR | detect --workdir RUN --key KEY.json IMAGE... | evaluate --workdir RUN --key
    KEY.json``."""
    parser = argparse.ArgumentParser(
        prog="gen-jax watermark", description="Tree-Ring watermarks (Wen et al. 2023) in the "
        "noise that flows, diffusion and flow-matching runs make images from: make a key, "
        "sample watermarked images, detect the watermark, measure the detector after edits.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("key", help="make a secret key for a run's images")
    _common(p, key=False)
    p.add_argument("--out", required=True, help="the key file to write")
    p.add_argument("--radius", type=int, default=None, help="outermost ring in frequency "
                   "steps (default: 0.36 of the smaller side, 10 for 28x28)")
    p.add_argument("--inner-radius", type=int, default=None, help="innermost ring (default: "
                   "half the radius; rings from 1 fix the samples' coarse shape)")
    p.add_argument("--channel", type=int, default=0, help="the noise channel with the rings")
    p = sub.add_parser("sample", help="watermarked samples as PNG files")
    _common(p)
    p.add_argument("--num", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="folder of the PNG files")
    p = sub.add_parser("detect", help="test images for the watermark")
    _common(p)
    p.add_argument("images", nargs="+", help="PNG or JPEG files of the run's size")
    p.add_argument("--alpha", type=float, default=0.01, help="false-positive rate: flag "
                   "an image when its p-value is below this")
    p.add_argument("--json", action="store_true", help="print JSON rows")
    p = sub.add_parser("evaluate", help="detection rates after common edits")
    _common(p)
    p.add_argument("--num", type=int, default=200, help="watermarked samples, and as many "
                   "clean ones")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--alpha", type=float, default=0.01)
    p.add_argument("--edits", nargs="+", default=list(EDITS), choices=list(EDITS))
    p.add_argument("--out", default=None, help="JSON file (default WORKDIR/watermark.json; "
                   "the markdown beside it)")
    args = parser.parse_args(list(argv))
    if not 0.0 < getattr(args, "alpha", 0.5) < 1.0:
        raise ValueError(f"--alpha must lie in (0, 1), got {args.alpha}")
    {"key": _key, "sample": _sample, "detect": _detect, "evaluate": _evaluate}[args.command](
        args)
    return 0
