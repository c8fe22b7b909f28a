"""Conditional flow matching: the rectified (straight) and Gaussian optimal-transport paths,
independent and minibatch-OT couplings (OT-CFM), Euler, Heun and adaptive sampling, and the
exact likelihood through the ODE."""

from ._config import FlowMatchingConfig as FlowMatchingConfig
from ._model import SAMPLERS as SAMPLERS
from ._model import FlowMatching as FlowMatching
from ._model import FlowMatchingWithLikelihood as FlowMatchingWithLikelihood
from ._model import build as build
from ._paths import interpolate as interpolate
from ._paths import ot_pairs as ot_pairs
from ._paths import ot_plan as ot_plan
