"""Model families behind one contract (:class:`GenerativeModel` and the capability protocols)
and their registry (:data:`FAMILIES`, :func:`build`, the one way to build a family by name).

One subpackage per family: :mod:`~gen_jax.models.autoencoder`, :mod:`~gen_jax.models.vae`,
:mod:`~gen_jax.models.gan`, :mod:`~gen_jax.models.m2`, :mod:`~gen_jax.models.ssl_gan`,
:mod:`~gen_jax.models.flows`,
:mod:`~gen_jax.models.ppca`,
:mod:`~gen_jax.models.diffusion`, :mod:`~gen_jax.models.flow_matching`,
:mod:`~gen_jax.models.charrnn`, :mod:`~gen_jax.models.transformer_lm`,
:mod:`~gen_jax.models.molvae`, :mod:`~gen_jax.models.translation` (pix2pix, CycleGAN).
"""

from ._base import CAPABILITIES as CAPABILITIES
from ._base import Batch as Batch
from ._base import Classification as Classification
from ._base import DataDependentInit as DataDependentInit
from ._base import DataRequirements as DataRequirements
from ._base import ExactLikelihood as ExactLikelihood
from ._base import GenerativeModel as GenerativeModel
from ._base import LatentCode as LatentCode
from ._base import LikelihoodBound as LikelihoodBound
from ._base import Metrics as Metrics
from ._base import NoiseCode as NoiseCode
from ._base import OwnOptimizer as OwnOptimizer
from ._base import OwnUpdate as OwnUpdate
from ._base import Preprocess as Preprocess
from ._base import PrivateUpdate as PrivateUpdate
from ._base import Proposal as Proposal
from ._base import Reconstruction as Reconstruction
from ._base import Sampling as Sampling
from ._base import SamplingVariables as SamplingVariables
from ._base import ScheduledLoss as ScheduledLoss
from ._base import SemiSupervised as SemiSupervised
from ._base import SolverSampling as SolverSampling
from ._base import TemperatureSampling as TemperatureSampling
from ._base import Translation as Translation
from ._base import TranslationBack as TranslationBack
from ._base import UpdateFn as UpdateFn
from ._base import Variables as Variables
from ._base import all_finite as all_finite
from ._base import capabilities as capabilities
from ._coders import CoderConfig as CoderConfig
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
from ._sampling import SamplerSettings as SamplerSettings
from .autoencoder import Autoencoder as Autoencoder
from .autoencoder import AutoencoderConfig as AutoencoderConfig
from .autoencoder import AutoencoderNet as AutoencoderNet
from .charrnn import CharRNN as CharRNN
from .charrnn import CharRNNConfig as CharRNNConfig
from .diffusion import DiffusionConfig as DiffusionConfig
from .flow_matching import FlowMatchingConfig as FlowMatchingConfig
from .flows import FlowConfig as FlowConfig
from .flows import GlowConfig as GlowConfig
from .flows import MAFConfig as MAFConfig
from .flows import NSFConfig as NSFConfig
from .flows import RealNVPConfig as RealNVPConfig
from .gan import GAN as GAN
from .gan import Discriminator as Discriminator
from .gan import GANConfig as GANConfig
from .gan import Generator as Generator
from .gan import TwoPlayerTransform as TwoPlayerTransform
from .gan import discriminator_loss as discriminator_loss
from .gan import generator_loss as generator_loss
from .gan import gradient_penalty as gradient_penalty
from .gan import pack as pack
from .gan import r1_penalty as r1_penalty
from .gan import two_player as two_player
from .m2 import M1M2 as M1M2
from .m2 import M2 as M2
from .m2 import M1M2Config as M1M2Config
from .m2 import M2Config as M2Config
from .molvae import MolVAE as MolVAE
from .molvae import MolVAEConfig as MolVAEConfig
from .ppca import PPCA as PPCA
from .ppca import PPCAConfig as PPCAConfig
from .ssl_gan import SSLGAN as SSLGAN
from .ssl_gan import SSLGANConfig as SSLGANConfig
from .transformer_lm import TransformerLM as TransformerLM
from .transformer_lm import TransformerLMConfig as TransformerLMConfig
from .translation import CycleGAN as CycleGAN
from .translation import CycleGANConfig as CycleGANConfig
from .translation import Pix2Pix as Pix2Pix
from .translation import Pix2PixConfig as Pix2PixConfig
from .vae import VAE as VAE
from .vae import ElboTerms as ElboTerms
from .vae import VAEConfig as VAEConfig
from .vae import VAENet as VAENet
from .vae import elbo as elbo
from .vae import gaussian_kl as gaussian_kl
from .vae import iwae_bound as iwae_bound
from .vae import log_importance_weights as log_importance_weights


def __getattr__(name: str):
    # Flow imports distrax and TFP, which the other families never need: loaded on first use.
    if name == "Flow":
        from .flows import Flow  # noqa: PLC0415

        return Flow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "Flow"})
