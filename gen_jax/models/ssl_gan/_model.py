"""Salimans et al. (2016)'s semi-supervised GAN with feature matching ("improved GAN").

The discriminator is a ``K``-class classifier whose logits ``l(x)`` also say how real ``x``
is: with the fake class's logit fixed at 0, ``D(x) = Z(x) / (Z(x) + 1)``, ``Z = sum_k
exp(l_k(x))``. Its loss (the reference code's, ``train_mnist_feature_matching.py``) is

    ``loss_lab = mean_l[logsumexp l(x) - l_y(x)]`` (cross-entropy of the labelled examples),
    ``loss_unl = -1/2 mean_r[lse(x)] + 1/2 mean_r[softplus(lse(x))]
    + 1/2 mean_f[softplus(lse(G(z)))]``, ``lse = logsumexp l``,

``loss_lab + unlabelled_weight * loss_unl``, where ``r`` runs over the batch's unlabelled
examples (every example when the data are fully labelled) and ``f`` over the fakes. The
generator matches the mean of the discriminator's last hidden features on fakes to that on the
same unlabelled examples (feature matching). One step updates the discriminator, then
the generator against the updated discriminator with fresh fakes.

Networks (the reference's MNIST ones): a discriminator MLP 784-1000-500-250-250-250-10 with
ReLU, weight normalization initialized from the data (each layer's noisy pre-activations start
at zero mean and unit variance over the first training examples) and Gaussian noise on its
input (0.3) and hidden layers (0.5) in training; a generator of 100 uniform noise inputs through
two dense layers of 500 softplus units with batch normalization (a shift, no scale) and a
weight-normalized sigmoid output layer. As in the reference, the discriminator's hidden
layers keep their weight scales at the data-dependent initial values; its output layer's
scale trains.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import chex
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from ... import optim
from ...data import DatasetInfo
from ...nn import output_dtype, params_in
from .._base import Batch, Metrics, Proposal, UpdateFn, Variables, all_finite
from ..gan import TwoPlayerTransform, two_player

Dtype = Any


@dataclasses.dataclass(frozen=True)
class SSLGANConfig:
    """The feature-matching GAN's networks and objective (defaults: Salimans et al.'s MNIST
    model; they train it with Adam at 3e-3 and beta1 0.5, where on MNIST here 1e-3 kept the
    generator in play: ``--optim.learning-rate 1e-3 --optim.b1 0.5``)."""

    latent_dim: int = 100
    """Uniform noise inputs of the generator."""
    g_hidden: tuple[int, ...] = (500, 500)
    """Generator's dense hidden widths (softplus, batch normalization)."""
    d_hidden: tuple[int, ...] = (1000, 500, 250, 250, 250)
    """Discriminator's dense hidden widths (ReLU, weight normalization)."""
    input_noise: float = 0.3
    """Standard deviation of the Gaussian noise on the discriminator's input in training."""
    hidden_noise: float = 0.5
    """Standard deviation of the Gaussian noise after each hidden layer in training."""
    unlabelled_weight: float = 1.0
    """Weight of the real-versus-fake loss beside the labelled cross-entropy."""
    labelled_fraction: float = 0.5
    """With data.labels_per_class: the share of every batch drawn from the labelled pool (the
    reference: 100 labelled and 100 unlabelled examples per step)."""
    init_examples: int = 500
    """Training examples that set the discriminator's weight normalization at initialization."""


class WNDense(nn.Module):
    """A weight-normalized dense layer ``(x @ v / |v|) * scale + bias`` (Salimans & Kingma
    2016). At initialization ``scale`` and ``bias`` are set from the input batch so that each
    output starts with zero mean and unit variance over it (``data_init``), else 1 and 0.
    ``train_scale`` False keeps ``scale`` at its initial value (no gradient reaches it)."""

    features: int
    data_init: bool = True
    train_scale: bool = True
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        v = self.param("kernel", nn.initializers.normal(0.1), (x.shape[-1], self.features),
                       jnp.float32)
        direction = (v / jnp.sqrt(jnp.sum(v**2, axis=0) + 1e-12)).astype(self.dtype)
        t = x.astype(self.dtype) @ direction
        if self.data_init and self.is_initializing():
            mean = jnp.mean(t, axis=0).astype(jnp.float32)
            std = jnp.sqrt(jnp.var(t, axis=0).astype(jnp.float32) + 1e-6)
            scale = self.param("scale", lambda *_: 1.0 / std)
            bias = self.param("bias", lambda *_: -mean / std)
        else:
            scale = self.param("scale", nn.initializers.ones, (self.features,), jnp.float32)
            bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        if not self.train_scale:
            scale = jax.lax.stop_gradient(scale)
        return t * scale.astype(self.dtype) + bias.astype(self.dtype)


class Classifier(nn.Module):
    """The discriminator: ``x`` -> ``(logits [B, K], last hidden features [B, F])``."""

    hidden: tuple[int, ...]
    num_classes: int
    input_noise: float
    hidden_noise: float
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, jax.Array]:
        def noise(h, std):
            if not train or not std:
                return h
            return h + std * jax.random.normal(self.make_rng("noise"), h.shape, h.dtype)

        h = noise(x.reshape(x.shape[0], -1).astype(self.dtype), self.input_noise)
        features = h
        for width in self.hidden:  # the reference's hidden scales stay at their initial values
            features = nn.relu(WNDense(width, train_scale=False, dtype=self.dtype)(h))
            h = noise(features, self.hidden_noise)
        logits = WNDense(self.num_classes, dtype=self.dtype)(h)
        out = output_dtype(self.dtype)
        return logits.astype(out), features.astype(out)


class Generator(nn.Module):
    """Uniform noise ``[B, latent]`` -> images ``[B, *shape]`` in ``[0, 1]``."""

    hidden: tuple[int, ...]
    shape: tuple[int, ...]
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
        h = z.astype(self.dtype)
        for width in self.hidden:
            h = nn.Dense(width, dtype=self.dtype)(h)
            h = nn.BatchNorm(use_running_average=not train, momentum=0.9, use_scale=False,
                             dtype=self.dtype)(h)
            h = nn.softplus(h)
        out = WNDense(math.prod(self.shape), data_init=False, dtype=self.dtype)(h)
        return nn.sigmoid(out.astype(output_dtype(self.dtype))).reshape(-1, *self.shape)


def real_rows(labelled: jax.Array) -> jax.Array:
    """The rows of a batch that stand for the unlabelled real data: the unlabelled ones, or
    every row when the batch has none (fully labelled data)."""
    return jnp.where(jnp.any(~labelled), ~labelled, True)


def discriminator_losses(logits: jax.Array, label: jax.Array, labelled: jax.Array,
                         logits_fake: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(loss_lab, loss_unl)`` of the module's docstring from the logits of a batch whose
    ``labelled`` rows ``[B]`` carry ``label`` (the others are unlabelled, ``-1``): the
    cross-entropy over the labelled rows, real-versus-fake over the unlabelled ones
    (:func:`real_rows`) and the fakes."""
    weight = labelled.astype(logits.dtype)
    lse = jax.nn.logsumexp(logits, axis=-1)
    picked = jnp.take_along_axis(logits, jnp.maximum(label, 0)[:, None], 1)[:, 0]
    loss_lab = jnp.sum(weight * (lse - picked)) / jnp.maximum(jnp.sum(weight), 1.0)
    real = real_rows(labelled).astype(logits.dtype)
    lse_fake = jax.nn.logsumexp(logits_fake, axis=-1)
    loss_unl = (0.5 * jnp.sum(real * (jax.nn.softplus(lse) - lse)) / jnp.sum(real)
                + 0.5 * jnp.mean(jax.nn.softplus(lse_fake)))
    return loss_lab, loss_unl


def feature_matching(real: jax.Array, fake: jax.Array, weight: jax.Array | None = None
                     ) -> jax.Array:
    """The generator's loss: mean squared difference of the features' batch means (the real
    ones over the rows of ``weight`` ``[B]``, default all)."""
    if weight is None:
        weight = jnp.ones(real.shape[0], real.dtype)
    weight = weight.astype(real.dtype)[:, None]
    real_mean = jnp.sum(weight * real, axis=0) / jnp.sum(weight)
    return jnp.mean((jnp.mean(fake, axis=0) - real_mean) ** 2)


class SSLGAN:
    """The feature-matching GAN bound to a config and a labelled image data set in ``[0, 1]``
    (``Sampling``, ``Classification``, ``SemiSupervised``, ``OwnUpdate``,
    ``DataDependentInit``).

    Attributes:
      config: the :class:`SSLGANConfig`.
      info: the data's :class:`~gen_jax.data.DatasetInfo`.
      classifier: the discriminator, :class:`Classifier`.
      generator: the :class:`Generator`.
      num_classes: 0: the generator does not take a class (the discriminator predicts it).
    """

    num_classes = 0

    def __init__(self, config: SSLGANConfig, info: DatasetInfo, *, dtype: Any = jnp.float32):
        if not info.num_classes:
            raise ValueError(f"ssl_gan learns classes, but {info.name!r} has no labels: train "
                             "it on a labelled data set (with data.labels_per_class for scarce "
                             "labels)")
        if info.num_levels is None:
            raise ValueError(f"ssl_gan's generator draws values in [0, 1], but {info.name!r} is "
                             "continuous: use discrete (image) data")
        for name in ("g_hidden", "d_hidden"):
            if not getattr(config, name) or min(getattr(config, name)) < 1:
                raise ValueError(f"ssl_gan: {name} must be one or more sizes >= 1, got "
                                 f"{tuple(getattr(config, name))}")
        if config.latent_dim < 1:
            raise ValueError(f"ssl_gan: latent_dim must be >= 1, got {config.latent_dim}")
        if min(config.input_noise, config.hidden_noise, config.unlabelled_weight) < 0:
            raise ValueError("ssl_gan: input_noise, hidden_noise and unlabelled_weight must be "
                             ">= 0")
        if not 0 < config.labelled_fraction < 1:
            raise ValueError(f"ssl_gan: labelled_fraction must lie in (0, 1), got "
                             f"{config.labelled_fraction}")
        if config.init_examples < 0:
            raise ValueError(f"ssl_gan: init_examples must be >= 0, got {config.init_examples}")
        self.config, self.info = config, info
        self.classifier = Classifier(tuple(config.d_hidden), info.num_classes,
                                     config.input_noise, config.hidden_noise, dtype)
        self.generator = Generator(tuple(config.g_hidden), tuple(info.shape), dtype)

    # ------------------------------------------------------------------ the contract

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """``{"params": {generator, discriminator}, "batch_stats": {generator}}``; the
        discriminator's weight normalization set from ``batch["x"]`` (its layers' noisy
        pre-activations start at zero mean and unit variance)."""
        x = batch["x"]
        chex.assert_shape(x, (None, *self.info.shape))
        key_g, key_d, key_noise = jax.random.split(key, 3)
        # with the training noise on, as the reference's initialization pass
        d_vars = self.classifier.init({"params": key_d, "noise": key_noise}, x, train=True)
        z = jnp.zeros((max(x.shape[0], 2), self.config.latent_dim), output_dtype(
            self.generator.dtype))
        g_vars = self.generator.init({"params": key_g}, z, train=False)
        return params_in({"params": {"generator": g_vars["params"],
                                     "discriminator": d_vars["params"]},
                          "batch_stats": {"generator": g_vars["batch_stats"]}},
                         self.generator.dtype)

    def _logits(self, variables: Variables, x: jax.Array) -> jax.Array:
        return self.classifier.apply({"params": variables["params"]["discriminator"]}, x,
                                     train=False)[0]

    def loss(self, variables: Variables, batch: Batch, key: jax.Array, *, train: bool = True
             ) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """The discriminator's loss on the batch (what ``gen-jax eval`` and the engine's
        checks see; training goes through :meth:`make_update`)."""
        x, label = batch["x"], batch["label"]
        key_z, key_n = jax.random.split(key)
        fake = self.generate(variables, self.noise(key_z, x.shape[0]), train=False)
        d = {"params": variables["params"]["discriminator"]}
        key_real, key_fake = jax.random.split(key_n)
        logits, _ = self.classifier.apply(d, x, train=train, rngs={"noise": key_real})
        logits_fake, _ = self.classifier.apply(d, fake, train=train, rngs={"noise": key_fake})
        loss_lab, loss_unl = discriminator_losses(logits, label, label >= 0, logits_fake)
        metrics = {"loss_lab": loss_lab, "loss_unl": loss_unl}
        return loss_lab + self.config.unlabelled_weight * loss_unl, (metrics, {})

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per-example ``error`` (the classifier's argmax differs from the label) and
        ``class_nll`` (``-log p(y | x)`` over the real classes)."""
        del key
        log_p = self.class_log_probs(variables, batch["x"])
        label = batch["label"]
        picked = jnp.take_along_axis(log_p, jnp.maximum(label, 0)[:, None], 1)[:, 0]
        wrong = (jnp.argmax(log_p, axis=-1) != label).astype(log_p.dtype)
        return {"error": wrong, "class_nll": -picked}

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """``-logsumexp l(x)``: the discriminator's log-odds of "fake" (higher is less like
        the training data)."""
        del key
        return -jax.nn.logsumexp(self._logits(variables, batch["x"]), axis=-1)

    def class_log_probs(self, variables: Variables, x: jax.Array) -> jax.Array:
        """``log p(y | x, real)``: ``[B, num_classes]`` (no noise)."""
        return jax.nn.log_softmax(self._logits(variables, x), axis=-1)

    def noise(self, key: jax.Array, num: int) -> jax.Array:
        """The generator's input: ``[num, latent_dim]`` uniform on ``[0, 1)``."""
        return jax.random.uniform(key, (num, self.config.latent_dim),
                                  output_dtype(self.generator.dtype))

    def generate(self, variables: Variables, z: jax.Array, *, train: bool
                 ) -> jax.Array | tuple[jax.Array, Any]:
        """Images for noise ``z``; in training also the updated batch statistics."""
        g = {"params": variables["params"]["generator"],
             "batch_stats": variables["batch_stats"]["generator"]}
        if not train:
            return self.generator.apply(g, z, train=False)
        return self.generator.apply(g, z, train=True, mutable=["batch_stats"])

    def sample(self, variables: Variables, key: jax.Array, num: int,
               label: jax.Array | None = None) -> jax.Array:
        """``[num, *shape]`` generator samples (batch normalization with its running
        statistics); the generator does not take a class (``label`` must be None)."""
        if label is not None:
            raise ValueError("ssl_gan's generator does not take a class: sample without "
                             "--label")
        return self.generate(variables, self.noise(key, num), train=False)

    def labelled_per_batch(self, batch_size: int, labelled: int, total: int) -> int:
        """``labelled_fraction`` of the batch, at least one example of each pool."""
        del labelled, total
        return min(max(round(batch_size * self.config.labelled_fraction), 1), batch_size - 1)

    def init_examples(self) -> int:
        """The discriminator's weight normalization starts from this many examples."""
        return self.config.init_examples

    def make_optimizer(self, optim_config: Any, total_steps: int) -> TwoPlayerTransform:
        """The same optimizer (``optim_config``) for both players."""
        tx = optim.make_optimizer(optim_config, total_steps)
        return two_player(tx, optim.make_optimizer(optim_config, total_steps))

    def make_update(self, preprocess: Callable, *, axis_name: str | None = None) -> UpdateFn:
        """``(state, batch) -> (proposal, metrics)``: one discriminator update, then one
        generator update against the updated discriminator with fresh fakes."""
        cfg = self.config

        def pmean(tree):
            return tree if axis_name is None else jax.lax.pmean(tree, axis_name)

        def update(state, batch):
            key_data, key_d, key_g = jax.random.split(state.step_key(), 3)
            if axis_name is not None:
                index = jax.lax.axis_index(axis_name)
                key_data, key_d, key_g = (jax.random.fold_in(k, index)
                                          for k in (key_data, key_d, key_g))
            batch = preprocess(batch, key_data)
            x, label = batch["x"], batch["label"]
            labelled = label >= 0
            params, g_stats = state.params, state.batch_stats["generator"]
            g_tx, d_tx = state.tx.generator, state.tx.discriminator

            def variables(d_params, g_params, stats):
                return {"params": {"discriminator": d_params, "generator": g_params},
                        "batch_stats": {"generator": stats}}

            # The discriminator, against fakes held fixed.
            key_z, key_n = jax.random.split(key_d)
            fake, _ = self.generate(variables(params["discriminator"], params["generator"],
                                              g_stats), self.noise(key_z, x.shape[0]),
                                    train=True)
            fake = jax.lax.stop_gradient(fake)

            def d_loss_fn(d_params):
                keys = jax.random.split(key_n, 2)
                logits, _ = self.classifier.apply({"params": d_params}, x, train=True,
                                                  rngs={"noise": keys[0]})
                logits_fake, _ = self.classifier.apply({"params": d_params}, fake, train=True,
                                                       rngs={"noise": keys[1]})
                loss_lab, loss_unl = discriminator_losses(logits, label, labelled, logits_fake)
                wrong = jnp.sum(labelled * (jnp.argmax(logits, -1) != label)) / jnp.maximum(
                    jnp.sum(labelled), 1)
                return loss_lab + cfg.unlabelled_weight * loss_unl, (loss_lab, loss_unl, wrong)

            (d_loss, (loss_lab, loss_unl, wrong)), d_grads = jax.value_and_grad(
                d_loss_fn, has_aux=True)(params["discriminator"])
            d_grads, d_loss = pmean((d_grads, d_loss))
            d_updates, d_opt = d_tx.update(d_grads, state.opt_state["discriminator"],
                                           params["discriminator"])
            d_params = optax.apply_updates(params["discriminator"], d_updates)

            # The generator: feature matching against the updated discriminator.
            key_z, key_n = jax.random.split(key_g)
            z = self.noise(key_z, x.shape[0])

            def g_loss_fn(g_params):
                fake, new = self.generate(variables(d_params, g_params, g_stats), z,
                                          train=True)
                keys = jax.random.split(key_n, 2)
                _, real_features = self.classifier.apply({"params": d_params}, x, train=True,
                                                         rngs={"noise": keys[0]})
                _, fake_features = self.classifier.apply({"params": d_params}, fake,
                                                         train=True, rngs={"noise": keys[1]})
                return (feature_matching(real_features, fake_features, real_rows(labelled)),
                        new["batch_stats"])

            (g_loss, new_stats), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
                params["generator"])
            g_grads, g_loss, new_stats = pmean((g_grads, g_loss, new_stats))
            g_updates, g_opt = g_tx.update(g_grads, state.opt_state["generator"],
                                           params["generator"])
            g_params = optax.apply_updates(params["generator"], g_updates)

            finite = (jnp.isfinite(d_loss) & jnp.isfinite(g_loss) & all_finite(d_grads)
                      & all_finite(g_grads))
            proposal = Proposal({"discriminator": d_params, "generator": g_params},
                                {"discriminator": d_opt, "generator": g_opt},
                                {"generator": new_stats}, finite)
            metrics = {"loss": d_loss, "loss_lab": loss_lab, "loss_unl": loss_unl,
                       "g_loss": g_loss, "train_error": wrong,
                       "labelled_share": jnp.mean(labelled.astype(d_loss.dtype)),
                       "d_grad_norm": optax.tree.norm(d_grads),
                       "grad_norm": optax.tree.norm(g_grads)}
            return proposal, metrics

        return update


def build(config: SSLGANConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32) -> SSLGAN:
    """An :class:`SSLGAN` for ``info``'s data (one-line ``ValueError`` when it does not
    fit)."""
    return SSLGAN(config, info, dtype=dtype)
