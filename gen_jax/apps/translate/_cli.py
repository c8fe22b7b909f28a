"""``gen-jax translate --workdir RUN --out FILE.npz``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from ...train import load_run
from ..augment import save_generated
from ._images import TranslateSettings, translated_set


def main(argv: Sequence[str]) -> int:
    """``gen-jax translate --workdir RUN --out FILE.npz [--split train] [--mode translate|back|
    untranslated] [--size N]``."""
    parser = argparse.ArgumentParser(
        prog="gen-jax translate", description="A split of one domain carried into the other by "
        "a pix2pix or cyclegan run, written as a labelled data set (.npz, with a .json record): "
        "gen-jax augment evaluate --generated FILE.npz then trains a classifier on it and tests "
        "it on the other domain (domain adaptation).")
    parser.add_argument("--workdir", required=True, help="the run's output folder")
    parser.add_argument("--out", required=True, help="the .npz to write")
    parser.add_argument("--split", default="train", help="the split to translate")
    parser.add_argument("--mode", default="translate",
                        choices=("translate", "back", "untranslated"),
                        help="translate: data -> target; back: target -> data (cyclegan); "
                        "untranslated: the data's images as they are (the source-only baseline)")
    parser.add_argument("--size", type=int, default=None, help="the first N examples (all)")
    args = parser.parse_args(list(argv))
    settings = TranslateSettings(split=args.split, mode=args.mode, size=args.size)
    translated = translated_set(load_run(args.workdir), settings)
    path = save_generated(translated, args.out)
    r = translated.record
    print(json.dumps({"npz": str(path), "record": str(path.with_suffix(".json")),
                      "num": r["num"], **r["translation"],
                      "evaluate_with": f"gen-jax augment evaluate --generated {path} "
                      "--arms generated real --out REPORT.json"}))
    return 0
