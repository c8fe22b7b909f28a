"""Probabilistic PCA: the smallest family with an exact likelihood (``docs/extending.md``)."""

from ._model import PPCA as PPCA
from ._model import PPCAConfig as PPCAConfig
from ._model import build as build
