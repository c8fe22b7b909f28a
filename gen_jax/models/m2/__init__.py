"""Kingma et al. (2014)'s semi-supervised VAEs: M2, whose class is a partly observed latent,
and M1+M2, M2 on the codes of a VAE."""

from ._model import M2 as M2
from ._model import M2Config as M2Config
from ._model import M2Net as M2Net
from ._model import M2Terms as M2Terms
from ._model import build as build
from ._model import class_bounds as class_bounds
from ._model import m2_terms as m2_terms
from ._stacked import M1M2 as M1M2
from ._stacked import M1M2Config as M1M2Config
from ._stacked import build_stacked as build_stacked
