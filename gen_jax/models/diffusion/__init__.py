"""Diffusion models: DDPM, the VP, sub-VP and VE SDEs and EDM; epsilon, x0, v and EDM
predictions; ancestral, DDIM, Euler, Heun, DPM-Solver++(2M), predictor-corrector and adaptive
samplers; classifier-free guidance; the DDPM bound and the probability-flow ODE likelihood."""

from ._bound import ddpm_vlb as ddpm_vlb
from ._config import DiffusionConfig as DiffusionConfig
from ._model import Diffusion as Diffusion
from ._model import DiffusionWithLikelihood as DiffusionWithLikelihood
from ._model import build as build
from ._param import PREDICTIONS as PREDICTIONS
from ._param import denoise as denoise
from ._param import target as target
from ._process import DDPM as DDPM
from ._process import EDM as EDM
from ._process import VE as VE
from ._process import VP as VP
from ._process import NoiseProcess as NoiseProcess
from ._process import SubVP as SubVP
from ._process import karras_grid as karras_grid
from ._process import make_process as make_process
from ._samplers import SAMPLERS as SAMPLERS
from ._samplers import ddim_decode as ddim_decode
from ._samplers import ddim_encode as ddim_encode
from ._samplers import probability_flow as probability_flow
from ._samplers import sample as sample
