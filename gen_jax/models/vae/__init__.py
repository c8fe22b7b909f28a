"""The variational autoencoder family: ELBO, beta-VAE and IWAE objectives."""

from ._model import VAE as VAE
from ._model import ElboTerms as ElboTerms
from ._model import VAEConfig as VAEConfig
from ._model import VAENet as VAENet
from ._model import build as build
from ._model import elbo as elbo
from ._model import gaussian_kl as gaussian_kl
from ._model import iwae_bound as iwae_bound
from ._model import log_importance_weights as log_importance_weights
