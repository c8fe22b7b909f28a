"""Optional dependencies: an extra that is not installed is one line saying what to install."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Imports ``module``, or raises :class:`MissingExtraError` with one line: ``purpose`` needs
    it, and ``pip install "gen-jax[extra]"`` installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        raise MissingExtraError(
            f"{purpose} needs {top}, which is not installed: "
            f"pip install \"gen-jax[{extra}]\"") from e
