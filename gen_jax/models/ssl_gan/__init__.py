"""Salimans et al. (2016)'s semi-supervised GAN classifier with feature matching."""

from ._model import SSLGAN as SSLGAN
from ._model import Classifier as Classifier
from ._model import Generator as Generator
from ._model import SSLGANConfig as SSLGANConfig
from ._model import WNDense as WNDense
from ._model import build as build
from ._model import discriminator_losses as discriminator_losses
from ._model import feature_matching as feature_matching
from ._model import real_rows as real_rows
