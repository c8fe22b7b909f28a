"""Normalizing flows as a :class:`~gen_jax.models.GenerativeModel`: exact likelihood, bits per
dimension, and (temperature) sampling.

The density is ``distrax.Transformed(N(0, I), bijector)``'s: ``log p(y) = log N(z) +
log|det dz/dy|`` with ``z = bijector.inverse(y)``. On discrete data the model space is the
logit of the dequantized data, and the log-det of that logit joins the likelihood so that every
number reported is about the data itself (see :func:`gen_jax.bijectors.logit_bits_per_dim`).
"""

from __future__ import annotations

from typing import Any

import chex
import distrax
import jax
import jax.numpy as jnp

from ... import bijectors as gb
from ...config import DataConfig
from ...data import DatasetInfo
from ...nn import get_activation, params_in
from .._base import Batch, Metrics, Variables
from .._coders import check_inputs, one_hot
from .._likelihoods import density_nll_metrics
from ._config import FLOW_CONFIGS, FlowConfig, GlowConfig, MAFConfig, NSFConfig
from ._nets import flow_net

Dtype = Any


def validate(config: FlowConfig, info: DatasetInfo, family: str) -> None:
    """Checks ``config`` against the data, raising a one-line ``ValueError`` naming the fix."""
    if config.num_layers < 1:
        raise ValueError(f"{family}: num_layers must be >= 1, got {config.num_layers}")
    if not config.hidden or min(config.hidden) < 1:
        raise ValueError(f"{family}: hidden needs positive widths, got {config.hidden}")
    get_activation(config.activation)
    if config.arch not in ("mlp", "conv"):
        raise ValueError(f"{family}: unknown arch {config.arch!r}; use 'mlp' or 'conv'")
    multiscale = isinstance(config, GlowConfig) or config.arch == "conv"
    if isinstance(config, MAFConfig) and config.arch != "mlp":
        raise ValueError(f"{family}: MADE layers act on vectors; set arch='mlp' (images are "
                         "flattened)")
    if isinstance(config, GlowConfig) and config.arch != "conv":
        raise ValueError(f"{family}: glow is multi-scale; keep arch='conv', or use realnvp/nsf "
                         "with arch='mlp' for a flow on vectors")
    if multiscale:
        if len(info.shape) != 3:
            raise ValueError(f"{family}: a multi-scale flow needs images [H, W, C], but "
                             f"{info.name!r} has shape {tuple(info.shape)}; use arch='mlp'")
        height, width, _ = info.shape
        factor = 2**config.num_levels
        if config.num_levels < 1 or height % factor or width % factor:
            raise ValueError(f"{family}: num_levels={config.num_levels} needs H and W divisible "
                             f"by {factor}, but {info.name!r} is {height}x{width}; lower "
                             "num_levels")
    elif info.dim < 2 and not isinstance(config, MAFConfig):
        raise ValueError(f"{family}: couplings need at least 2 dimensions, {info.name!r} has "
                         f"{info.dim}; use maf")
    if config.conditional and info.num_classes == 0:
        raise ValueError(f"{family}: conditional=True needs labels, but {info.name!r} has none; "
                         "set conditional=False")
    if not 0.0 <= config.logit_alpha < 0.5:
        raise ValueError(f"{family}: logit_alpha must be in [0, 0.5), got {config.logit_alpha}")
    if info.is_discrete and config.logit_alpha == 0.0:  # dequantizing can give exactly 0
        raise ValueError(f"{family}: logit_alpha=0 maps a dequantized pixel of exactly 0 (a "
                         f"possible draw) to -inf in {info.name!r}; use a small alpha such "
                         "as 1e-6")
    if config.log_scale_bound <= 0:
        raise ValueError(f"{family}: log_scale_bound must be > 0, got {config.log_scale_bound}")
    if isinstance(config, NSFConfig | MAFConfig):
        if config.num_bins < 2 or config.tail_bound <= 0:
            raise ValueError(f"{family}: splines need num_bins >= 2 and tail_bound > 0, got "
                             f"{config.num_bins} and {config.tail_bound}")
    if isinstance(config, MAFConfig):
        if config.direction not in ("maf", "iaf"):
            raise ValueError(f"{family}: unknown direction {config.direction!r}; use maf or iaf")
        if config.transformer not in ("affine", "spline"):
            raise ValueError(f"{family}: unknown transformer {config.transformer!r}; use affine "
                             "or spline")
        if min(config.hidden) < info.dim - 1:
            raise ValueError(f"{family}: MADE hidden widths must be >= dim - 1 = {info.dim - 1} "
                             f"so that every dependency is reachable, got {config.hidden}")


class Flow:
    """A flow family bound to a config and a data set (a ``GenerativeModel``).

    Attributes:
      config: the family's :class:`FlowConfig`.
      info: the data's :class:`~gen_jax.data.DatasetInfo`.
      net: the Flax module that owns the parameters and builds the bijector.
      num_classes: the classes it is conditioned on (0: unconditional).
      multiscale: a multi-scale image flow (Glow, ``arch="conv"``), whose ActNorm layers are
        initialized from real data.
    """

    def __init__(self, family: str, config: FlowConfig, info: DatasetInfo, *,
                 dtype: Dtype = jnp.float32):
        validate(config, info, family)
        self.family, self.config, self.info, self.dtype = family, config, info, dtype
        self.num_classes = info.num_classes if config.conditional else 0
        compute = None if dtype == jnp.float32 else dtype
        self.net = flow_net(config, tuple(info.shape), self.num_classes, compute)
        self.multiscale = isinstance(config, GlowConfig) or config.arch == "conv"
        self._event_ndims = len(info.shape)
        self._logit = gb.Logit(config.logit_alpha, event_ndims=self._event_ndims) \
            if info.is_discrete else None

    # ----- data <-> model space ---------------------------------------------------------------

    def init_examples(self) -> int:
        """Training examples ``init`` should see: ``config.init_examples`` for a multi-scale
        flow (ActNorm's data-dependent initialization), else 0."""
        return self.config.init_examples if self.multiscale else 0

    def dequantizes(self) -> bool:
        """True: discrete data reaches the model uniformly dequantized (a density needs
        continuous data)."""
        return True

    def check_data(self, data: DataConfig) -> None:
        """Raises a one-line ``ValueError`` when the data settings do not suit a flow."""
        if data.binarize:
            raise ValueError(f"{self.family}: a flow models continuous densities; drop "
                             "data.binarize and set data.dequantize=True")
        if self.info.is_discrete and data.dequantize is False:
            raise ValueError(f"{self.family}: {self.info.name!r} is discrete; a flow needs "
                             "dequantized inputs: leave data.dequantize unset (or True)")

    def _to_model(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Data ``[B, *shape]`` -> model-space ``y`` and ``log|dy/dx|`` ``[B]``."""
        if self._logit is None:
            y, log_det = x, jnp.zeros(x.shape[:1], x.dtype)
        else:
            y, log_det = self._logit.forward_and_log_det(x)
        if not self.multiscale:
            y = y.reshape(y.shape[0], -1)
        return y, log_det

    def _from_model(self, y: jax.Array) -> jax.Array:
        y = y.reshape(y.shape[0], *self.info.shape)
        if self._logit is None:
            return y
        return jnp.clip(self._logit.inverse(y), 0.0, 1.0)

    def _context(self, label: jax.Array | None, batch: int) -> jax.Array | None:
        return one_hot(label, self.num_classes, batch)

    # ----- the GenerativeModel interface ------------------------------------------------------

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """Initial variables; multi-scale flows initialize ActNorm from ``batch['x']``."""
        x = batch["x"]
        label = check_inputs(x, batch.get("label"), tuple(self.info.shape), self.num_classes)
        y, _ = self._to_model(x)
        context = self._context(label, x.shape[0])
        return params_in(
            dict(self.net.init({"params": key}, y, context, method="bijector_init")), self.dtype)

    def log_prob(self, variables: Variables, x: jax.Array,
                 label: jax.Array | None = None) -> jax.Array:
        """``log p(x)`` ``[B]`` of data ``x`` (a density on the dequantized ``[0, 1)`` scale for
        discrete data)."""
        label = check_inputs(x, label, tuple(self.info.shape), self.num_classes)
        y, log_det = self._to_model(x)
        context = self._context(label, x.shape[0])
        log_prob_y = self.net.apply(variables, y, context, method="log_prob")
        chex.assert_shape(log_prob_y, (x.shape[0],))
        return log_prob_y + log_det

    def _nll_metrics(self, log_p: jax.Array) -> Metrics:
        """Per-example ``nll`` and, for discrete data, ``bpd`` (:func:`density_nll_metrics`)."""
        return density_nll_metrics(log_p, self.info)

    def loss(self, variables: Variables, batch: Batch, key: jax.Array, *,
             train: bool = True) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """Mean negative log-likelihood (nats per example, on the data's own scale)."""
        del key, train
        log_p = self.log_prob(variables, batch["x"], batch.get("label"))
        metrics = {k: jnp.mean(v) for k, v in self._nll_metrics(log_p).items()}
        return -jnp.mean(log_p), (metrics, {})

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per-example ``nll`` (nats) and, for discrete data, ``bpd`` (bits per dimension)."""
        del key
        return self._nll_metrics(self.log_prob(variables, batch["x"], batch.get("label")))

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """Per-example negative log-likelihood ``[B]`` (nats, as ``nll`` of :meth:`evaluate`)."""
        return self.evaluate(variables, batch, key)["nll"]

    def sample(self, variables: Variables, key: jax.Array, num: int,
               label: jax.Array | None = None, *, temperature: float = 1.0) -> jax.Array:
        """``[num, *shape]`` samples; ``temperature`` scales the latent's standard deviation
        (Glow's reduced-temperature sampling: below 1 trades diversity for fidelity)."""
        if self.num_classes and label is None:
            raise ValueError(f"{self.family} is class-conditional: pass labels (int32 [num])")
        z = temperature * jax.random.normal(key, (num, self.info.dim))
        return self.from_latent(variables, z, label)

    def sample_at_temperature(self, variables: Variables, key: jax.Array, num: int,
                              temperature: float, label: jax.Array | None = None) -> jax.Array:
        """:meth:`sample` at ``temperature``."""
        return self.sample(variables, key, num, label, temperature=temperature)

    def to_latent(self, variables: Variables, x: jax.Array,
                  label: jax.Array | None = None) -> jax.Array:
        """The base-distribution point ``[B, dim]`` that the flow maps to ``x`` (exact)."""
        label = check_inputs(x, label, tuple(self.info.shape), self.num_classes)
        y, _ = self._to_model(x)
        context = self._context(label, x.shape[0])
        return self.net.apply(variables, None, context, method="bijector").inverse(y)

    def from_latent(self, variables: Variables, z: jax.Array,
                    label: jax.Array | None = None) -> jax.Array:
        """Data ``[N, *shape]`` at base points ``z`` ``[N, dim]``: the inverse of
        :meth:`to_latent`."""
        if self.num_classes and label is None:
            raise ValueError(f"{self.family} is class-conditional: pass labels (int32 [num])")
        context = self._context(label, z.shape[0])
        return self._from_model(self.net.apply(variables, z, context, method="sample"))

    def from_noise(self, variables: Variables, noise: jax.Array,
                   label: jax.Array | None = None) -> jax.Array:
        """Data ``[N, *shape]`` at the base points ``noise`` ``[N, *shape]`` (exact)."""
        return self.from_latent(variables, noise.reshape(noise.shape[0], -1), label)

    def to_noise(self, variables: Variables, x: jax.Array,
                 label: jax.Array | None = None) -> jax.Array:
        """The base point of ``x`` in the data's shape ``[B, *shape]`` (exact)."""
        return self.to_latent(variables, x, label).reshape(x.shape[0], *self.info.shape)

    def distribution(self, variables: Variables,
                     label: jax.Array | None = None) -> distrax.Transformed:
        """The flow over the model space as a ``distrax.Transformed`` (unconditional, or for
        one batch of labels)."""
        context = None if label is None else self._context(label, label.shape[0])
        bijector = self.net.apply(variables, None, context, method="bijector")
        base = distrax.MultivariateNormalDiag(jnp.zeros(self.info.dim))
        return distrax.Transformed(base, bijector)


def build(config: FlowConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32) -> Flow:
    """The flow family of ``config``'s class (realnvp, nsf, maf, glow) for ``info``'s data
    (validates the config; one-line ``ValueError``)."""
    family = next((name for name, cls in FLOW_CONFIGS.items() if type(config) is cls), None)
    if family is None:
        raise ValueError(f"no flow takes a {type(config).__name__}; use one of "
                         f"{', '.join(cls.__name__ for cls in FLOW_CONFIGS.values())}")
    return Flow(family, config, info, dtype=dtype)
