"""Kingma et al. (2014)'s M2: a semi-supervised VAE with the class as a partly observed latent.

The generative model is ``p(y) p(z) p(x | y, z)`` (``y`` uniform over the classes, ``z``
standard normal); the inference model is a classifier ``q(y | x)`` and a class-conditional
encoder ``q(z | x, y)``. A labelled example contributes its evidence lower bound

    ``L(x, y) = E_q(z|x,y)[log p(x | y, z)] + log p(y) - KL(q(z | x, y) || p(z))``

and an unlabelled one the bound with ``y`` summed out under the classifier,

    ``U(x) = sum_y q(y | x) L(x, y) + H(q(y | x))``.

The classifier learns from the labelled examples through ``alpha``-weighted cross-entropy:
the per-example training loss is

    ``-L(x, y) - (alpha / f) log q(y | x)`` (labelled), ``-U(x)`` (unlabelled),

averaged over the batch, where ``f`` is the batch's share of labelled examples. Over a batch
this is ``f mean_l[-L] + alpha mean_l[-log q] + (1 - f) mean_u[-U]``. With the data's own
share, ``f = N_l / N``, it is Kingma et al.'s objective ``J^alpha`` per example (their
``beta = alpha N / N_l`` per labelled example; their ``alpha`` is 0.1). Another share (at least
one labelled example per batch, or ``labelled_fraction``) reweights the labelled bound, while
the classification term keeps its weight ``alpha``. Under ``train.strategy pmap`` ``f`` is each
device's share, equal to the batch's when the device count divides the labelled count.

The bounds of all classes are computed at once for every example (one decoder pass over
``B * num_classes`` rows), as their code does for the unlabelled part.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal, NamedTuple

import chex
import jax
import jax.numpy as jnp
from flax import linen as nn

from ...data import DatasetInfo
from ...nn import output_dtype, params_in
from .._base import Batch, Metrics, Variables
from .._coders import Activation, CoderConfig, Decoder, Encoder, likelihood_of, validate
from .._likelihoods import Likelihood, LikelihoodName

Dtype = Any


@dataclasses.dataclass(frozen=True)
class M2Config:
    """M2's networks and objective.

    The defaults are Kingma et al.'s MNIST M2: one hidden layer of 500 softplus units in each
    network, a 50-dimensional ``z``, a Bernoulli likelihood, ``alpha = 0.1``.
    """

    arch: Literal["mlp", "conv"] = "mlp"
    """mlp: dense layers on the flattened input; conv: stride-2 convolutions and a sub-pixel
    convolutional decoder (image data [H, W, C] only), for the encoder, decoder and
    classifier."""
    hidden: tuple[int, ...] = (500,)
    """Dense hidden widths of the encoder q(z | x, y) (the decoder mirrors them)."""
    classifier_hidden: tuple[int, ...] = (500,)
    """Dense hidden widths of the classifier q(y | x)."""
    activation: Activation = "softplus"
    channels: tuple[int, ...] = (32, 64)
    """conv arch: channels of the stride-2 convolutions (the decoder mirrors them)."""
    kernel_size: int = 3
    """conv arch: square kernel size."""
    latent_dim: int = 50
    likelihood: LikelihoodName = "bernoulli"
    """bernoulli: logits (data in [0, 1]); gaussian: mean and log-scale; logistic: discretized
    logistic over the data's num_levels bins."""
    scale: Literal["learned", "fixed", "predicted"] = "learned"
    """Gaussian/logistic log-scale: learned, fixed (log_scale) or predicted per example."""
    log_scale: float = 0.0
    """The fixed log-scale, or the initial value of the learned one."""
    alpha: float = 0.1
    """Weight of the labelled examples' classification loss, per example of the data (Kingma
    et al.'s alpha: 0.1)."""
    labelled_fraction: float | None = None
    """With data.labels_per_class: the share of every batch drawn from the labelled pool (None:
    the data's own share, at least one example per batch, as Kingma et al.'s minibatches)."""


def coder_config(config: M2Config) -> CoderConfig:
    """The encoder/decoder settings of ``config`` as the VAE's networks take them."""
    return CoderConfig(arch=config.arch, hidden=tuple(config.hidden),
                       activation=config.activation, channels=tuple(config.channels),
                       kernel_size=config.kernel_size, latent_dim=config.latent_dim,
                       likelihood=config.likelihood, scale=config.scale,
                       log_scale=config.log_scale, conditional=True)


class M2Net(nn.Module):
    """Classifier ``q(y | x)``, encoder ``q(z | x, y)`` and decoder ``p(x | y, z)``.

    Attributes:
      config: the encoder/decoder settings (:func:`coder_config`).
      classifier_hidden: the classifier's dense hidden widths.
      shape: shape of one example.
      num_classes: number of classes.
      likelihood: the observation likelihood.
      dtype: compute dtype (outputs float32, or float64 when computing in float64).
    """

    config: CoderConfig
    classifier_hidden: tuple[int, ...]
    shape: tuple[int, ...]
    num_classes: int
    likelihood: Likelihood
    dtype: Dtype = jnp.float32

    def setup(self):
        self.encoder = Encoder(self.config, 2 * self.config.latent_dim, dtype=self.dtype)
        self.decoder = Decoder(self.config, self.shape, dtype=self.dtype)
        classifier = dataclasses.replace(self.config, hidden=self.classifier_hidden)
        self.classifier = Encoder(classifier, self.num_classes, dtype=self.dtype)

    def classify(self, x: jax.Array) -> jax.Array:
        """``x`` ``[B, *shape]`` -> class logits ``[B, num_classes]``."""
        return self.classifier(x, None)

    def encode(self, x: jax.Array, onehot: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``q(z | x, y)``'s ``(mean, log_var)``, each ``[B, latent]``."""
        mean, log_var = jnp.split(self.encoder(x, onehot), 2, axis=-1)
        return mean, log_var

    def decode(self, z: jax.Array, onehot: jax.Array) -> tuple[jax.Array, jax.Array | None]:
        """``p(x | y, z)``'s ``(loc, log_scale)``, each ``[B, *shape]``."""
        return self.decoder(z, onehot)

    def __call__(self, x: jax.Array):
        onehot = jax.nn.one_hot(jnp.zeros(x.shape[0], jnp.int32), self.num_classes)
        mean, _ = self.encode(x, onehot)
        return self.classify(x), self.decode(mean, onehot)


def class_bounds(net: M2Net, variables: Variables, x: jax.Array, eps: jax.Array) -> jax.Array:
    """``L(x, y)`` for every example and every class: ``[B, num_classes]``.

    Args:
      net: the M2 network.
      variables: its Flax variables.
      x: ``[B, *shape]`` float data.
      eps: ``[B, num_classes, latent]`` standard normal draws, one ``z`` per example and class
        (``z = mean + exp(log_var / 2) * eps``).
    """
    batch, classes = x.shape[0], net.num_classes
    chex.assert_shape(eps, (batch, classes, net.config.latent_dim))
    rows = jnp.tile(x, (classes,) + (1,) * (x.ndim - 1))  # row c * B + i: example i, class c
    onehot = jax.nn.one_hot(jnp.repeat(jnp.arange(classes), batch), classes)
    mean, log_var = net.apply(variables, rows, onehot, method=M2Net.encode)
    z = mean + jnp.exp(0.5 * log_var) * jnp.swapaxes(eps, 0, 1).reshape(mean.shape)
    loc, log_scale = net.apply(variables, z, onehot, method=M2Net.decode)
    log_px = net.likelihood.log_prob(loc, log_scale, rows, event_ndim=x.ndim - 1)
    kl = 0.5 * jnp.sum(mean**2 + jnp.exp(log_var) - 1.0 - log_var, axis=-1)
    bound = log_px - kl - math.log(classes)
    return bound.reshape(classes, batch).T


class M2Terms(NamedTuple):
    """Per-example ``[B]`` terms of M2's objective.

    Attributes:
      loss: the training loss of each example (see the module's docstring).
      bound: ``U(x)``, the bound on ``log p(x)`` with the class summed out (every example).
      labelled_bound: ``L(x, y)`` at the given label (0 for unlabelled examples).
      class_nll: ``-log q(y | x)`` at the given label (0 for unlabelled examples).
      labelled: whether the example has a label (``label >= 0``).
    """

    loss: jax.Array
    bound: jax.Array
    labelled_bound: jax.Array
    class_nll: jax.Array
    labelled: jax.Array


def m2_terms(net: M2Net, variables: Variables, x: jax.Array, label: jax.Array,
             eps: jax.Array, alpha: float) -> M2Terms:
    """M2's per-example objective terms; ``label`` ``[B]`` is ``-1`` for unlabelled examples.

    The classification loss is weighted ``alpha / f`` with ``f`` the batch's share of labelled
    examples (see the module's docstring).
    """
    chex.assert_shape(label, (x.shape[0],))
    bounds = class_bounds(net, variables, x, eps)  # [B, C]
    log_q = jax.nn.log_softmax(net.apply(variables, x, method=M2Net.classify).astype(
        bounds.dtype))
    q = jnp.exp(log_q)
    unlabelled_bound = jnp.sum(q * (bounds - log_q), axis=-1)  # sum_y q L + H(q)
    labelled = label >= 0
    index = jnp.maximum(label, 0)[:, None]
    labelled_bound = jnp.where(labelled, jnp.take_along_axis(bounds, index, 1)[:, 0], 0.0)
    class_nll = jnp.where(labelled, -jnp.take_along_axis(log_q, index, 1)[:, 0], 0.0)
    share = jnp.maximum(jnp.mean(labelled.astype(bounds.dtype)), 1.0 / x.shape[0])
    loss = jnp.where(labelled, -labelled_bound + alpha / share * class_nll, -unlabelled_bound)
    return M2Terms(loss, unlabelled_bound, labelled_bound, class_nll, labelled)


def require_labels(info: DatasetInfo, family: str) -> None:
    """One line naming the fix when ``info``'s data have no labels to learn classes from."""
    if not info.num_classes:
        raise ValueError(f"{family} learns classes, but {info.name!r} has no labels: train it "
                         "on a labelled data set (with data.labels_per_class for scarce labels)")


class M2:
    """The M2 family bound to a config and a labelled data set (a ``GenerativeModel`` that is
    also :class:`~gen_jax.models.SemiSupervised` and :class:`~gen_jax.models.Classification`).

    Attributes:
      config: the :class:`M2Config`.
      info: the data's :class:`~gen_jax.data.DatasetInfo`.
      net: the :class:`M2Net`.
      num_classes: the data's classes (M2 is always class-conditional).
    """

    def __init__(self, config: M2Config, info: DatasetInfo, *, dtype: Any = jnp.float32):
        require_labels(info, "m2")
        coder = coder_config(config)
        validate(coder, info, "m2")
        if any(size < 1 for size in config.classifier_hidden):
            raise ValueError(f"m2: every classifier_hidden size must be >= 1, got "
                             f"{tuple(config.classifier_hidden)}")
        if not (config.alpha >= 0 and math.isfinite(config.alpha)):
            raise ValueError(f"m2: alpha must be a finite number >= 0, got {config.alpha}")
        if config.labelled_fraction is not None and not 0 < config.labelled_fraction < 1:
            raise ValueError(f"m2: labelled_fraction must lie in (0, 1), got "
                             f"{config.labelled_fraction}")
        self.config, self.info = config, info
        self.num_classes = info.num_classes
        self._clip = info.num_levels is not None  # decoder means of discrete data in [0, 1]
        self.net = M2Net(coder, tuple(config.classifier_hidden), tuple(info.shape),
                         info.num_classes, likelihood_of(coder, info), dtype)

    def _x(self, x: jax.Array) -> jax.Array:
        """``x`` as the networks take it (its shape and dtype asserted)."""
        chex.assert_shape(x, (None, *self.net.shape))
        chex.assert_type(x, float)
        return x

    def _label(self, batch: Batch) -> jax.Array:
        label = batch.get("label")
        if label is None:
            raise ValueError("m2 learns from labels: pass batch['label'] (int32 [B], -1 for "
                             "an unlabelled example)")
        chex.assert_type(label, int)
        return label

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """Initial variables for a batch of this shape (labels not needed)."""
        return params_in(dict(self.net.init({"params": key}, self._x(batch["x"]))),
                         self.net.dtype)

    def _terms(self, variables: Variables, batch: Batch, key: jax.Array,
               label: jax.Array | None = None) -> M2Terms:
        """The terms with one ``z`` drawn per example and class; ``label`` overrides the
        batch's."""
        x = self._x(batch["x"])
        eps = jax.random.normal(key, (x.shape[0], self.num_classes, self.config.latent_dim),
                                output_dtype(self.net.dtype))
        label = self._label(batch) if label is None else label
        return m2_terms(self.net, variables, x, label, eps, self.config.alpha)

    def loss(
        self, variables: Variables, batch: Batch, key: jax.Array, *, train: bool = True
    ) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """The mean per-example loss (module docstring); metrics averaged over the labelled and
        the unlabelled examples of the batch."""
        del train  # no dropout or batch statistics
        terms = self._terms(variables, batch, key)
        labelled = terms.labelled.astype(terms.loss.dtype)
        count = jnp.maximum(jnp.sum(labelled), 1.0)
        unlabelled = jnp.maximum(jnp.sum(1.0 - labelled), 1.0)
        metrics = {"bound": jnp.mean(terms.bound),
                   "labelled_bound": jnp.sum(terms.labelled_bound) / count,
                   "class_nll": jnp.sum(terms.class_nll) / count,
                   "unlabelled_bound": jnp.sum((1.0 - labelled) * terms.bound) / unlabelled,
                   "labelled_share": jnp.mean(labelled)}
        return jnp.mean(terms.loss), (metrics, {})

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per-example ``elbo`` (``U(x)``, the bound on ``log p(x)``), ``error`` (the
        classifier's argmax differs from the label), ``class_nll`` (``-log q(y | x)``) and
        ``labelled_bound`` (``L(x, y)``); evaluation splits are fully labelled."""
        terms = self._terms(variables, batch, key)
        log_q = self._log_q(variables, batch["x"])
        wrong = (jnp.argmax(log_q, axis=-1) != batch["label"]).astype(log_q.dtype)
        return {"elbo": terms.bound, "error": jnp.where(terms.labelled, wrong, 0.0),
                "class_nll": terms.class_nll, "labelled_bound": terms.labelled_bound}

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """Per-example ``-U(x)`` (nats; one ``z`` per class): labels are not used."""
        unlabelled = jnp.full((batch["x"].shape[0],), -1, jnp.int32)
        return -self._terms(variables, batch, key, unlabelled).bound

    def class_log_probs(self, variables: Variables, x: jax.Array) -> jax.Array:
        """``log q(y | x)``: ``[B, num_classes]``."""
        return self._log_q(variables, x)

    def _log_q(self, variables: Variables, x: jax.Array) -> jax.Array:
        logits = self.net.apply(variables, self._x(x), method=M2Net.classify)
        return jax.nn.log_softmax(logits.astype(output_dtype(self.net.dtype)))

    def labelled_per_batch(self, batch_size: int, labelled: int, total: int) -> int:
        """``labelled_fraction`` of the batch, or the data's share ``labelled / total``;
        rounded, and at least one example of each pool."""
        share = self.config.labelled_fraction
        count = round(batch_size * (labelled / total if share is None else share))
        return min(max(count, 1), batch_size - 1)

    def decode(self, variables: Variables, z: jax.Array, label: jax.Array) -> jax.Array:
        """The mean of ``p(x | y, z)`` for ``z`` ``[N, latent_dim]``: ``[N, *shape]``."""
        chex.assert_shape(z, (None, self.config.latent_dim))
        onehot = jax.nn.one_hot(label, self.num_classes)
        loc, log_scale = self.net.apply(variables, z, onehot, method=M2Net.decode)
        out = self.net.likelihood.mean(loc, log_scale)
        return jnp.clip(out, 0.0, 1.0) if self._clip else out

    def sample(
        self, variables: Variables, key: jax.Array, num: int, label: jax.Array | None = None
    ) -> jax.Array:
        """Decoder means at ``num`` prior draws of ``z``: ``[num, *shape]``; without ``label``
        the classes in turn (``arange(num) % C``)."""
        z = jax.random.normal(key, (num, self.config.latent_dim), output_dtype(self.net.dtype))
        if label is None:
            label = jnp.arange(num, dtype=jnp.int32) % self.num_classes
        return self.decode(variables, z, label)

    def reconstruct(self, variables: Variables, x: jax.Array,
                    label: jax.Array | None = None) -> jax.Array:
        """The decoder's mean at ``q(z | x, y)``'s mean, with ``y`` the label or, without one,
        the classifier's most probable class: ``[B, *shape]``."""
        if label is None:
            label = jnp.argmax(self._log_q(variables, x), axis=-1)
        onehot = jax.nn.one_hot(label, self.num_classes)
        mean, _ = self.net.apply(variables, self._x(x), onehot, method=M2Net.encode)
        return self.decode(variables, mean, label)


def build(config: M2Config, info: DatasetInfo, *, dtype: Dtype = jnp.float32) -> M2:
    """An :class:`M2` for ``info``'s data (one-line ``ValueError`` on a config or data that
    does not fit: M2 needs labelled data)."""
    return M2(config, info, dtype=dtype)
