"""The oracle of property optimization: a molecule's score under a named property or a user's
own RDKit function, with a size cap, a cache, and its calls counted against a budget.

An *oracle call* is one distinct valid molecule (within the size cap) scored for the first time:
repeated queries of a molecule are answered from the cache, and invalid or over-size molecules
score NaN without a call. Optimizers stop when the budget is spent, so methods compared under
one budget have seen the same number of scored molecules.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _chem

ZINC_MAX_HEAVY_ATOMS = 38
"""The largest molecule of ZINC-250k (heavy atoms): the default size cap, so that penalized
logP is not raised by ever longer carbon chains."""


@dataclasses.dataclass(frozen=True)
class Objective:
    """What is maximized: ``fn`` of an RDKit molecule, for molecules of at most
    ``max_heavy_atoms`` heavy atoms (None: no cap)."""

    name: str
    fn: Callable[[Any], float]
    max_heavy_atoms: int | None = ZINC_MAX_HEAVY_ATOMS

    def __post_init__(self):
        if self.max_heavy_atoms is not None and self.max_heavy_atoms < 1:
            raise ValueError(f"max_heavy_atoms must be positive, got {self.max_heavy_atoms}")

    def score(self, smiles: str) -> float:
        """The objective of one molecule: NaN when invalid, over the cap, or not finite."""
        m = _chem.mol(smiles)
        if m is None or (self.max_heavy_atoms is not None
                         and m.GetNumHeavyAtoms() > self.max_heavy_atoms):
            return math.nan
        value = float(self.fn(m))
        return value if math.isfinite(value) else math.nan


def _negated(fn: Callable[[Any], float], m: Any) -> float:
    return -fn(m)


def objective(spec: str, *, max_heavy_atoms: int | None = ZINC_MAX_HEAVY_ATOMS) -> Objective:
    """The objective named ``spec``: a property of :data:`PROPERTIES` (``qed``,
    ``penalized_logp``, ...), or ``module:function``, a user's function of an RDKit molecule
    returning a float (higher is better); a leading ``-`` negates either (``-sa``: minimize the
    synthetic accessibility score).

    Raises:
      ValueError: an unknown property, or a ``module:function`` that does not import or is not
        callable (one line saying which).
    """
    if spec.startswith("-"):
        inner = objective(spec[1:], max_heavy_atoms=max_heavy_atoms)
        return Objective(spec, functools.partial(_negated, inner.fn), max_heavy_atoms)
    if ":" not in spec:
        return Objective(spec, _chem.property_fn(spec), max_heavy_atoms)
    module, _, name = spec.partition(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"objective {spec!r}: cannot import {name} from {module} ({e}); give a "
                         f"property ({', '.join(_chem.PROPERTIES)}) or module:function") from None
    if not callable(fn):
        raise ValueError(f"objective {spec!r} is not a function of an RDKit molecule")
    return Objective(spec, fn, max_heavy_atoms)


@dataclasses.dataclass
class Round:
    """One round of an optimizer: what it proposed and how the oracle scored it."""

    smiles: list[str]
    scores: np.ndarray
    calls: int
    """Oracle calls spent after this round."""


class Oracle:
    """Scores molecules with an :class:`Objective`, caching by canonical SMILES and counting
    the calls (distinct valid molecules within the size cap) against ``budget``.

    Attributes:
      calls: oracle calls so far.
      history: ``(canonical SMILES, score, call)`` of every molecule scored, in call order.
    """

    def __init__(self, objective: Objective, budget: int | None = None):
        if budget is not None and budget < 1:
            raise ValueError(f"the oracle budget must be positive, got {budget}")
        self.objective, self.budget = objective, budget
        self.calls = 0
        self.history: list[tuple[str, float, int]] = []
        self._cache: dict[str, float] = {}

    @property
    def remaining(self) -> float:
        """Calls left (``inf`` without a budget)."""
        return math.inf if self.budget is None else self.budget - self.calls

    def __call__(self, smiles: Sequence[str]) -> np.ndarray:
        """``[N]`` scores (NaN: invalid, over the size cap, or past the budget: molecules met
        after the budget is spent are not scored)."""
        out = np.full(len(smiles), np.nan)
        for i, s in enumerate(smiles):
            key = _chem.canonical(s) if s else None
            if key is None:
                continue
            if key not in self._cache:
                if self.remaining <= 0:
                    continue
                value = self.objective.score(key)
                self._cache[key] = value
                if not math.isnan(value):
                    self.calls += 1
                    self.history.append((key, value, self.calls))
            out[i] = self._cache[key]
        return out

    def best(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` best distinct molecules scored so far, best first."""
        ranked = sorted(self.history, key=lambda h: -h[1])
        return [(s, v) for s, v, _ in ranked[:k]]
