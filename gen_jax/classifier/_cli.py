"""The ``gen-jax classifier`` command: train (and version) a feature classifier.

``gen-jax classifier train DATASET [--workdir runs/classifiers] [--data-dir DIR]
[--tfds-dir DIR] [--classifier.epochs 5 --classifier.channels 32 64 ...]``
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from .._tyro import parse, plain
from ..metrics import DEFAULT_CLASSIFIER_ROOT, ClassifierConfig
from ._train import train_classifier


@dataclasses.dataclass(frozen=True)
class ClassifierTrainArgs:
    """Train the feature classifier of a labelled image data set.

    Attributes:
      dataset: mnist, fashion_mnist or digits.
      workdir: root folder of the classifiers (the result goes to WORKDIR/DATASET/v*-HASH).
      data_dir: raw data folder (default $GEN_JAX_DATA_DIR).
      tfds_dir: prepared TFDS folder (default $GEN_JAX_TFDS_DIR).
      classifier: architecture and training settings.
    """

    dataset: str
    workdir: str = DEFAULT_CLASSIFIER_ROOT
    data_dir: str | None = None
    tfds_dir: str | None = None
    classifier: ClassifierConfig = ClassifierConfig()


def classifier_main(argv: Sequence[str]) -> int:
    """Runs ``gen-jax classifier ARGV`` (ARGV: everything after ``classifier``); 0 on success.

    Prints the saved record (JSON: path, test accuracy, ...). Bad settings raise ValueError /
    FileNotFoundError with a one-line message, like the rest of the CLI.
    """
    argv = list(argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(plain(__doc__.strip()))
        return 0
    if not argv or argv[0] != "train":
        raise ValueError("usage: gen-jax classifier train DATASET [--workdir DIR] "
                         "[--classifier.epochs N ...]; see gen-jax classifier train --help")
    rest = argv[1:]
    if rest and not rest[0].startswith("-"):  # the data set as a positional argument
        rest = ["--dataset", *rest]
    args = parse(ClassifierTrainArgs, rest, "gen-jax classifier train",
                 description="Train, checkpoint and version a feature classifier.")
    record = train_classifier(args.dataset, args.workdir, args.classifier,
                              data_dir=args.data_dir, tfds_dir=args.tfds_dir)
    print(json.dumps(record, indent=2))
    return 0
