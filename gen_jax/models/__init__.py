"""Model families behind one contract (:class:`GenerativeModel` and the capability protocols)
and their registry (:data:`FAMILIES`, :func:`build`)."""

from . import _autoencoder, _gan, _vae
from ._autoencoder import Autoencoder as Autoencoder
from ._autoencoder import AutoencoderConfig as AutoencoderConfig
from ._autoencoder import AutoencoderNet as AutoencoderNet
from ._base import CAPABILITIES as CAPABILITIES
from ._base import Batch as Batch
from ._base import DataDependentInit as DataDependentInit
from ._base import DataRequirements as DataRequirements
from ._base import ExactLikelihood as ExactLikelihood
from ._base import GenerativeModel as GenerativeModel
from ._base import LikelihoodBound as LikelihoodBound
from ._base import Metrics as Metrics
from ._base import OwnUpdate as OwnUpdate
from ._base import Preprocess as Preprocess
from ._base import Proposal as Proposal
from ._base import Reconstruction as Reconstruction
from ._base import Sampling as Sampling
from ._base import SamplingVariables as SamplingVariables
from ._base import TemperatureSampling as TemperatureSampling
from ._base import UpdateFn as UpdateFn
from ._base import Variables as Variables
from ._base import all_finite as all_finite
from ._base import capabilities as capabilities
from ._coders import CoderConfig as CoderConfig
from ._flow_config import FlowConfig as FlowConfig
from ._flow_config import GlowConfig as GlowConfig
from ._flow_config import MAFConfig as MAFConfig
from ._flow_config import NSFConfig as NSFConfig
from ._flow_config import RealNVPConfig as RealNVPConfig
from ._gan import GAN as GAN
from ._gan import GANConfig as GANConfig
from ._gan_losses import discriminator_loss as discriminator_loss
from ._gan_losses import generator_loss as generator_loss
from ._gan_losses import gradient_penalty as gradient_penalty
from ._gan_losses import r1_penalty as r1_penalty
from ._gan_nets import Discriminator as Discriminator
from ._gan_nets import Generator as Generator
from ._gan_nets import pack as pack
from ._gan_step import TwoPlayerTransform as TwoPlayerTransform
from ._gan_step import two_player as two_player
from ._likelihoods import Likelihood as Likelihood
from ._likelihoods import bernoulli_log_prob as bernoulli_log_prob
from ._likelihoods import bernoulli_mean as bernoulli_mean
from ._likelihoods import discretize as discretize
from ._likelihoods import discretized_logistic_log_prob as discretized_logistic_log_prob
from ._likelihoods import discretized_logistic_mean as discretized_logistic_mean
from ._likelihoods import gaussian_log_prob as gaussian_log_prob
from ._registry import FAMILIES as FAMILIES
from ._registry import Builder as Builder
from ._registry import Family as Family
from ._registry import build as build
from ._registry import name_of as name_of
from ._registry import register as register
from ._vae import VAE as VAE
from ._vae import ElboTerms as ElboTerms
from ._vae import VAEConfig as VAEConfig
from ._vae import VAENet as VAENet
from ._vae import elbo as elbo
from ._vae import gaussian_kl as gaussian_kl
from ._vae import iwae_bound as iwae_bound
from ._vae import log_importance_weights as log_importance_weights

build_autoencoder = _autoencoder.build
build_gan = _gan.build
build_vae = _vae.build


def __getattr__(name: str):
    # Flow imports distrax and TFP, which the other families never need: loaded on first use.
    if name == "Flow":
        from ._flow import Flow  # noqa: PLC0415

        return Flow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "Flow"})
