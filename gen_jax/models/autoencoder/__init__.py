"""The deterministic autoencoder family (reconstructions; no prior to sample from)."""

from ._model import Autoencoder as Autoencoder
from ._model import AutoencoderConfig as AutoencoderConfig
from ._model import AutoencoderNet as AutoencoderNet
from ._model import NoPriorError as NoPriorError
from ._model import build as build
