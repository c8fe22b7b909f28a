"""What diffusion models and flow matching share: the time-conditioned network and its
settings, class conditioning with a null label (classifier-free guidance), the data's model
space, and the likelihood through the ODE.

Images reach the network in ``[-1, 1]`` (``2 x - 1`` of the ``[0, 1]`` data); continuous data
as it is. Densities are reported on the data's own scale (the ``2^D`` of the map included), so
that bits per dimension compare with every other family.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import jax
import jax.numpy as jnp

from ..config import DataConfig
from ..data import DatasetInfo
from ..nn import TimeMLP, UNet, params_in
from ._base import Batch, Metrics, Variables
from ._coders import check_inputs
from ._likelihoods import density_nll_metrics
from ._sampling import SamplerSettings

Dtype = Any


@dataclasses.dataclass(frozen=True)
class ContinuousConfig:
    """Network, conditioning, sampling and likelihood settings of the continuous-time families.

    The network defaults are W8 of BENCHMARKS.md (the DDPM U-Net at 28x28: base 64 channels,
    multipliers 1, 2, 2, two residual blocks per resolution, 4-head attention at 7x7).
    """

    arch: Literal["auto", "unet", "mlp"] = "auto"
    """unet (images [H, W, C]), mlp (the flattened example); auto: unet for images, else mlp."""
    channels: int = 64
    """U-Net: channels at the first resolution."""
    channel_mult: tuple[int, ...] = (1, 2, 2)
    """U-Net: channel multiplier per resolution (H and W divisible by 2 ** (len - 1))."""
    num_res_blocks: int = 2
    """U-Net: residual blocks per resolution."""
    attention_resolutions: tuple[int, ...] = (7,)
    """U-Net: feature-map sizes (H) with self-attention."""
    num_heads: int = 4
    """U-Net: attention heads."""
    num_groups: int = 32
    """U-Net: GroupNorm groups."""
    hidden: tuple[int, ...] = (256, 256, 256)
    """MLP: widths of the residual blocks."""
    dropout: float = 0.0
    """Dropout inside the blocks (training only)."""
    time_embedding: Literal["sinusoidal", "fourier"] = "sinusoidal"
    """Noise-level features: sinusoidal (DDPM) or Gaussian Fourier (score SDEs)."""
    conditional: bool = False
    """Class-conditional: a label embedding joins the time embedding."""
    label_dropout: float = 0.1
    """Conditional training: the label is replaced by the null label with this probability,
    which trains the unconditional model that classifier-free guidance needs."""
    sampler: str = "ddim"
    """The default sampler of ``sample`` (the command line's ``--sampler`` overrides it)."""
    steps: int = 50
    """The default sampler's steps."""
    eta: float = 0.0
    """ddim's default stochasticity."""
    guidance_scale: float = 1.0
    """Default classifier-free guidance ``w`` (1: the conditional model)."""
    likelihood: Literal["auto", "ode", "none"] = "auto"
    """ode: evaluate reports the exact NLL through the ODE (bits/dim on images); none: not
    computed (it costs hundreds of network evaluations per example); auto: ode for vector data,
    none for images (``gen-jax eval --likelihood ode`` computes it for a run either way)."""
    divergence: Literal["auto", "exact", "gaussian", "rademacher"] = "auto"
    """The divergence in the likelihood: exact (one product per dimension), or Hutchinson's
    estimate with Gaussian or Rademacher noise; auto: exact up to 64 dimensions."""
    ode_rtol: float = 1e-5
    """Likelihood ODE: relative tolerance."""
    ode_atol: float = 1e-5
    """Likelihood ODE: absolute tolerance."""

    def sampler_settings(self) -> SamplerSettings:
        """The default :class:`SamplerSettings` of this config."""
        return SamplerSettings(self.sampler, self.steps, self.eta, self.guidance_scale)


def validate_common(config: ContinuousConfig, info: DatasetInfo, family: str,
                    samplers: tuple[str, ...]) -> None:
    """Checks the shared settings against the data (one-line ``ValueError``)."""
    arch = resolved_arch(config, info)
    if arch == "unet":
        if len(info.shape) != 3:
            raise ValueError(f"{family}: the U-Net needs images [H, W, C], but {info.name!r} "
                             f"has shape {tuple(info.shape)}; set arch='mlp'")
        factor = 2 ** (len(config.channel_mult) - 1)
        if not config.channel_mult or info.shape[0] % factor or info.shape[1] % factor:
            raise ValueError(f"{family}: channel_mult {config.channel_mult} halves the image "
                             f"{len(config.channel_mult) - 1} times, so H and W must be "
                             f"divisible by {factor}, but {info.name!r} is "
                             f"{info.shape[0]}x{info.shape[1]}; use fewer multipliers")
        if config.channels < 1 or min(config.channel_mult) < 1 or config.num_res_blocks < 1:
            raise ValueError(f"{family}: channels, channel_mult and num_res_blocks must be "
                             "positive")
        if config.num_heads < 1 or config.num_groups < 1:
            raise ValueError(f"{family}: num_heads and num_groups must be >= 1")
        widths = {config.channels * m for m in config.channel_mult}
        if any(w % config.num_heads for w in widths):
            raise ValueError(f"{family}: every width {sorted(widths)} must be divisible by "
                             f"num_heads={config.num_heads}")
    elif not config.hidden or min(config.hidden) < 1:
        raise ValueError(f"{family}: hidden needs positive widths, got {config.hidden}")
    if not 0 <= config.dropout < 1 or not 0 <= config.label_dropout < 1:
        raise ValueError(f"{family}: dropout and label_dropout must be in [0, 1), got "
                         f"{config.dropout} and {config.label_dropout}")
    if config.conditional and info.num_classes == 0:
        raise ValueError(f"{family}: conditional=True needs labels, but {info.name!r} has none; "
                         "set conditional=False")
    if config.guidance_scale != 1 and not config.conditional:
        raise ValueError(f"{family}: guidance_scale needs a conditional model; set "
                         "conditional=True or leave guidance_scale at 1")
    config.sampler_settings().check(samplers)
    if config.ode_rtol <= 0 or config.ode_atol <= 0:
        raise ValueError(f"{family}: ode_rtol and ode_atol must be > 0")


def _resolve(name: str, value: str, auto: str, choices: tuple[str, ...]) -> str:
    """``value``, or ``auto``'s choice for ``"auto"``; a one-line error for anything else."""
    if value == "auto":
        return auto
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; use auto, {', '.join(choices)}")
    return value


def resolved_arch(config: ContinuousConfig, info: DatasetInfo) -> str:
    """unet or mlp (``auto``: unet for images)."""
    return _resolve("arch", config.arch, "unet" if len(info.shape) == 3 else "mlp",
                    ("unet", "mlp"))


def resolved_likelihood(config: ContinuousConfig, info: DatasetInfo) -> str:
    """ode or none (``auto``: ode for vector data)."""
    return _resolve("likelihood", config.likelihood, "none" if len(info.shape) == 3 else "ode",
                    ("ode", "none"))


def resolved_divergence(config: ContinuousConfig, info: DatasetInfo) -> str:
    """exact, gaussian or rademacher (``auto``: exact up to 64 dimensions, else gaussian)."""
    return _resolve("divergence", config.divergence, "exact" if info.dim <= 64 else "gaussian",
                    ("exact", "gaussian", "rademacher"))


class ContinuousFamily:
    """The shared half of :class:`~gen_jax.models.diffusion.Diffusion` and
    :class:`~gen_jax.models.flow_matching.FlowMatching`: the network, labels, data space.

    Attributes:
      config: the family's config.
      info: the data.
      num_classes: classes it is conditioned on (0: unconditional); label ``num_classes`` is
        the null label.
      net: the Flax network ``(x, net_time, label, train) -> output`` of the data's shape.
    """

    family: str = "continuous"
    samplers: tuple[str, ...] = ()
    """The samplers ``sample_with`` takes (each family's own)."""
    ode_likelihood: bool = False
    """Whether ``evaluate`` and the anomaly score use the ODE likelihood (the classes with
    :class:`ODELikelihood`'s ``log_prob``)."""

    def __init__(self, config: ContinuousConfig, info: DatasetInfo, *,
                 dtype: Dtype = jnp.float32):
        self.config, self.info, self.dtype = config, info, dtype
        self.num_classes = info.num_classes if config.conditional else 0
        compute = jnp.float32 if dtype == jnp.float32 else dtype
        self.arch = resolved_arch(config, info)
        if self.arch == "unet":
            self.net = UNet(config.channels, tuple(config.channel_mult), config.num_res_blocks,
                            tuple(config.attention_resolutions), config.num_heads,
                            config.num_groups, config.dropout, config.time_embedding,
                            self.num_classes, dtype=compute)
        else:
            self.net = TimeMLP(tuple(config.hidden), config.time_embedding, self.num_classes,
                               config.dropout, dtype=compute)
        self._images = info.is_discrete and len(info.shape) == 3

    # ----- data <-> model space ---------------------------------------------------------------

    def dequantizes(self) -> bool:
        """True: discrete data reaches the model uniformly dequantized, so that its density is
        a bound on the discrete likelihood."""
        return True

    def check_data(self, data: DataConfig) -> None:
        """Raises a one-line ``ValueError`` when the data settings do not suit the family."""
        if data.binarize:
            raise ValueError(f"{self.family}: a continuous-time model of densities; drop "
                             "data.binarize")

    def to_model(self, x: jax.Array) -> jax.Array:
        """Data -> model space (``2 x - 1`` for discrete data in ``[0, 1]``)."""
        return 2 * x - 1 if self.info.is_discrete else x

    def from_model(self, y: jax.Array) -> jax.Array:
        """Model space -> data (clipped to ``[0, 1]`` for discrete data)."""
        return jnp.clip((y + 1) / 2, 0.0, 1.0) if self.info.is_discrete else y

    def model_log_det(self) -> float:
        """``log |dy/dx|`` of :meth:`to_model` per example (``D log 2`` for discrete data)."""
        return self.info.dim * math.log(2.0) if self.info.is_discrete else 0.0

    def _flat(self, y: jax.Array) -> jax.Array:
        return y if self.arch == "unet" else y.reshape(y.shape[0], -1)

    def _unflat(self, y: jax.Array) -> jax.Array:
        return y.reshape(y.shape[0], *self.info.shape)

    # ----- sampling and likelihood ----------------------------------------------------------

    def sampler_names(self) -> tuple[str, ...]:
        """The samplers ``sample_with`` takes."""
        return self.samplers

    def default_sampler(self) -> SamplerSettings:
        """The config's sampler settings."""
        return self.config.sampler_settings()

    def sample_with(self, variables: Variables, key: jax.Array, num: int,
                    settings: SamplerSettings, label: jax.Array | None = None
                    ) -> tuple[jax.Array, jax.Array]:
        """``([num, *shape] samples in data space, network evaluations per path)``."""
        raise NotImplementedError

    def sample(self, variables: Variables, key: jax.Array, num: int,
               label: jax.Array | None = None) -> jax.Array:
        """``[num, *shape]`` samples with the config's sampler."""
        return self.sample_with(variables, key, num, self.default_sampler(), label)[0]

    def _model_log_prob(self, variables: Variables, x: jax.Array,
                        label: jax.Array | None) -> jax.Array:
        """``log p(y)`` ``[B]`` of ``x``'s model-space point through the family's ODE."""
        raise NotImplementedError

    def _guidance_factor(self, settings: SamplerSettings) -> int:
        """Network evaluations per denoiser call: 2 under guidance other than 0 and 1."""
        return 2 if self.num_classes and settings.guidance_scale not in (0, 1) else 1

    def _check_labels(self, label: jax.Array | None, settings: SamplerSettings) -> None:
        if self.num_classes and label is None and settings.guidance_scale != 0:
            raise ValueError(f"{self.family} is class-conditional: pass labels (int32 [num]), "
                             "or guidance scale 0 for the unconditional model")

    # ----- the network -----------------------------------------------------------------------

    def _labels(self, label: jax.Array | None, batch: int) -> jax.Array | None:
        if not self.num_classes:
            return None
        if label is None:
            raise ValueError(f"{self.family} is class-conditional: pass labels (int32 [num])")
        return jnp.broadcast_to(label, (batch,)).astype(jnp.int32)

    def _init_net(self, key: jax.Array, batch: Batch) -> Variables:
        x = batch["x"]
        label = check_inputs(x, batch.get("label"), tuple(self.info.shape), self.num_classes)
        y = self._flat(self.to_model(x))
        t = jnp.zeros(x.shape[0])
        return params_in(dict(self.net.init({"params": key}, y, t, label)), self.dtype)

    def _apply(self, variables: Variables, y: jax.Array, net_time: jax.Array,
               label: jax.Array | None, *, train: bool = False,
               key: jax.Array | None = None) -> jax.Array:
        """The network output for model-space ``y`` ``[B, *shape]`` (unflattened)."""
        rngs = {"dropout": key} if train and self.config.dropout > 0 else None
        out = self.net.apply(variables, self._flat(y), jnp.broadcast_to(net_time, y.shape[:1]),
                             label, train=train, rngs=rngs)
        return self._unflat(out)

    def _drop_labels(self, label: jax.Array | None, key: jax.Array) -> jax.Array | None:
        """Training labels with the null label in place of each with ``label_dropout``."""
        if not self.num_classes:
            return None
        drop = jax.random.bernoulli(key, self.config.label_dropout, label.shape)
        return jnp.where(drop, self.num_classes, label)

    def _guided(self, variables: Variables, label: jax.Array | None, scale: float):
        """``(y, net_time) -> output``: the conditional output, the unconditional one (scale
        0), or their classifier-free combination ``u + w (c - u)``."""
        if not self.num_classes or scale == 1:
            return lambda y, s: self._apply(variables, y, s, self._labels(label, y.shape[0]))
        null = lambda y: jnp.full((y.shape[0],), self.num_classes, jnp.int32)  # noqa: E731
        if scale == 0:
            return lambda y, s: self._apply(variables, y, s, null(y))

        def out(y, s):
            both = jnp.concatenate([y, y])
            labels = jnp.concatenate([self._labels(label, y.shape[0]), null(y)])
            cond, uncond = jnp.split(self._apply(variables, both, s, labels), 2)
            return uncond + scale * (cond - uncond)

        return out

    def _density_metrics(self, log_p_model: jax.Array) -> Metrics:
        """``nll`` (and ``bpd``) from a model-space log-density (the map's log-det added)."""
        return density_nll_metrics(log_p_model + self.model_log_det(), self.info)


class ODELikelihood:
    """What a continuous-time family adds when its likelihood is computed (``likelihood=ode``):
    :class:`~gen_jax.models.ExactLikelihood`'s ``log_prob``. Mixed in before the family."""

    ode_likelihood = True

    def log_prob(self, variables: Variables, x: jax.Array,
                 label: jax.Array | None = None) -> jax.Array:
        """``log p(x)`` ``[B]`` through the ODE (a density of the dequantized ``[0, 1)`` data
        for discrete data; Hutchinson's noise, where used, from a fixed key)."""
        return self._model_log_prob(variables, x, label) + self.model_log_det()
