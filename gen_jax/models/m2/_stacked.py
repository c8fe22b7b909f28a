"""Kingma et al. (2014)'s M1+M2: M2 trained on the latent codes of a VAE (M1).

One run trains both, in two phases of one schedule (:class:`~gen_jax.models.ScheduledLoss`):
for the first ``m1_steps`` steps the loss is M1's negative ELBO on the images (every example,
labels unused); after them it is M2's loss on ``z1 ~ q(z1 | x)`` drawn from M1's posterior at
every step, with M1 held fixed (no gradient reaches it). Evaluation and classification use
M1's posterior mean, as Kingma et al. do for test images; samples go down both decoders.

Kingma et al. also keep only the dimensions of ``z1`` whose posterior mean varies (standard
deviation above 0.1 over 1,000 training images); here M2 models every dimension, the inactive
ones as noise with a learned scale.

M1 and M2 have optimizers of their own (:class:`~gen_jax.models.OwnOptimizer`), each with the
run's settings, its schedule over its own phase, and its state untouched while the other phase
trains (:func:`gen_jax.optim.skip_zero_gradients`): M1 stays exactly where its phase left it,
and M2's first updates are Adam's first updates.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import chex
import jax
import jax.numpy as jnp
import optax

from ... import optim
from ...data import DatasetInfo
from ...nn import params_in
from .._base import Batch, Metrics, Variables
from .._coders import CoderConfig, likelihood_of, validate
from .._likelihoods import LikelihoodName
from ..vae import VAENet, elbo
from ._model import M2, M2Config, require_labels

Dtype = Any


@dataclasses.dataclass(frozen=True)
class M1M2Config(M2Config):
    """M1 (a VAE of the images) and M2 on its latent codes.

    The defaults are Kingma et al.'s MNIST M1+M2: M1 with two hidden layers of 500 softplus
    units, ``z1`` of 50 dimensions and a Bernoulli likelihood; M2 (the fields of
    :class:`M2Config`) with one hidden layer of 500, ``z2`` of 50 and a Gaussian likelihood of
    ``z1``.
    """

    likelihood: LikelihoodName = "gaussian"
    """M2's likelihood of z1: gaussian (z1 is continuous)."""
    m1_hidden: tuple[int, ...] = (500, 500)
    """Dense hidden widths of M1's encoder (its decoder mirrors them)."""
    m1_latent_dim: int = 50
    """Dimensions of z1, the codes M2 learns from."""
    m1_likelihood: LikelihoodName = "bernoulli"
    """M1's likelihood of the images (see the VAE's likelihood)."""
    m1_steps: int = 10000
    """Training steps of the first phase (M1 alone); M2 trains from then on."""


def m1_config(config: M1M2Config) -> CoderConfig:
    """M1's network settings (MLP; the activation is M2's)."""
    return CoderConfig(arch="mlp", hidden=tuple(config.m1_hidden), activation=config.activation,
                       latent_dim=config.m1_latent_dim, likelihood=config.m1_likelihood)


class M1M2(M2):
    """M1+M2 bound to a config and a labelled data set: :class:`M2` on M1's codes, with M1 and
    the two-phase schedule (``loss_at``).

    Attributes:
      m1: M1's :class:`~gen_jax.models.VAENet` (on the images).
      net: M2's :class:`M2Net` (on ``z1``).
    """

    def __init__(self, config: M1M2Config, info: DatasetInfo, *, dtype: Any = jnp.float32):
        if config.likelihood != "gaussian":
            raise ValueError(f"m1m2: M2 models M1's continuous codes: likelihood must be "
                             f"'gaussian', got {config.likelihood!r}")
        if config.m1_steps < 0:
            raise ValueError(f"m1m2: m1_steps must be >= 0, got {config.m1_steps}")
        require_labels(info, "m1m2")
        m1 = m1_config(config)
        validate(m1, info, "m1m2")
        codes = dataclasses.replace(info, shape=(config.m1_latent_dim,), num_levels=None)
        super().__init__(config, codes, dtype=dtype)
        self.info = info
        self.m1 = VAENet(m1, tuple(info.shape), 0, likelihood_of(m1, info), dtype)

    def _image(self, x: jax.Array) -> jax.Array:
        """Images as M1 takes them (their shape and dtype asserted)."""
        chex.assert_shape(x, (None, *self.info.shape))
        chex.assert_type(x, float)
        return x

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """Initial variables ``{"params": {"m1": ..., "m2": ...}}``."""
        key_m1, key_m2 = jax.random.split(key)
        x = self._image(batch["x"])
        m1 = self.m1.init({"params": key_m1}, x)["params"]
        z = jnp.zeros((x.shape[0], self.config.m1_latent_dim), x.dtype)
        m2 = self.net.init({"params": key_m2}, z)["params"]
        return params_in({"params": {"m1": m1, "m2": m2}}, self.net.dtype)

    @staticmethod
    def _parts(variables: Variables) -> tuple[Variables, Variables]:
        params = variables["params"]
        return {"params": params["m1"]}, {"params": params["m2"]}

    def _codes(self, variables: Variables, x: jax.Array,
               key: jax.Array | None) -> jax.Array:
        """M1's posterior mean of ``z1`` (``key`` None) or a draw from it; no gradient."""
        m1, _ = self._parts(variables)
        mean, log_var = self.m1.apply(m1, self._image(x), None, method=VAENet.encode)
        if key is not None:
            mean = mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape, mean.dtype)
        return jax.lax.stop_gradient(mean)

    def _m2_batch(self, variables: Variables, batch: Batch, key: jax.Array | None
                  ) -> tuple[Variables, Batch]:
        return self._parts(variables)[1], {**batch, "x": self._codes(variables, batch["x"], key)}

    def _m2_loss(self, variables: Variables, batch: Batch, key: jax.Array):
        key_codes, key_m2 = jax.random.split(key)
        m2, codes = self._m2_batch(variables, batch, key_codes)
        loss, (metrics, _) = super().loss(m2, codes, key_m2)
        return loss, {**metrics, "m1_elbo": jnp.zeros((), loss.dtype)}

    def _m1_loss(self, variables: Variables, batch: Batch, key: jax.Array):
        self._label(batch)
        m1, _ = self._parts(variables)
        terms = elbo(self.m1, m1, self._image(batch["x"]), None, key)
        loss = -jnp.mean(terms.elbo)
        zero = jnp.zeros((), loss.dtype)
        metrics = {"bound": zero, "labelled_bound": zero, "class_nll": zero,
                   "unlabelled_bound": zero,
                   "labelled_share": jnp.mean((batch["label"] >= 0).astype(loss.dtype)),
                   "m1_elbo": jnp.mean(terms.elbo)}
        return loss, metrics

    def make_optimizer(self, optim_config: Any, total_steps: int
                       ) -> optax.GradientTransformation:
        """One optimizer per model, each with the run's settings and a schedule over its own
        phase, each idle (state untouched) while its model gets no gradient."""
        first = self.config.m1_steps
        txs = {"m1": optim.skip_zero_gradients(optim.make_optimizer(optim_config,
                                                                    max(first, 1))),
               "m2": optim.skip_zero_gradients(optim.make_optimizer(
                   optim_config, max(total_steps - first, 1)))}

        def labels(params):
            return {name: jax.tree.map(lambda _, n=name: n, params[name]) for name in txs}

        return optax.multi_transform(txs, labels)

    def loss(self, variables: Variables, batch: Batch, key: jax.Array, *, train: bool = True
             ) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """The second phase's loss: M2's on codes drawn from M1's posterior."""
        del train
        loss, metrics = self._m2_loss(variables, batch, key)
        return loss, (metrics, {})

    def loss_at(self, variables: Variables, batch: Batch, key: jax.Array, step: jax.Array, *,
                train: bool) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """M1's negative ELBO before ``m1_steps``, M2's loss on its codes from then on."""
        del train
        loss, metrics = jax.lax.cond(step < self.config.m1_steps, self._m1_loss, self._m2_loss,
                                     variables, batch, key)
        return loss, (metrics, {})

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """M2's per-example metrics on M1's posterior means (``error``, ``class_nll``;
        ``m2_bound``: the bound on ``log p(z1)``), and ``elbo``, M1's ELBO of the image (the
        bound on ``log p(x)``)."""
        key_m1, key_m2 = jax.random.split(key)
        m2, codes = self._m2_batch(variables, batch, None)
        out = super().evaluate(m2, codes, key_m2)
        out["m2_bound"] = out.pop("elbo")
        out["elbo"] = elbo(self.m1, self._parts(variables)[0], self._image(batch["x"]), None,
                           key_m1).elbo
        return out

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """M1's negative ELBO of each image (nats; one posterior sample)."""
        return -elbo(self.m1, self._parts(variables)[0], self._image(batch["x"]), None, key).elbo

    def class_log_probs(self, variables: Variables, x: jax.Array) -> jax.Array:
        """``log q(y | z1)`` at M1's posterior mean: ``[B, num_classes]``."""
        m2, _ = self._parts(variables)
        return self._log_q(m2, self._codes(variables, x, None))

    def _images(self, variables: Variables, z1: jax.Array) -> jax.Array:
        loc, log_scale = self.m1.apply(self._parts(variables)[0], z1, None,
                                       method=VAENet.decode)
        out = self.m1.likelihood.mean(loc, log_scale)
        return jnp.clip(out, 0.0, 1.0) if self.info.num_levels is not None else out

    def sample(self, variables: Variables, key: jax.Array, num: int,
               label: jax.Array | None = None) -> jax.Array:
        """``z1`` from M2 (its decoder's mean for ``z2`` drawn from the prior and the class),
        then M1's decoder mean: ``[num, *shape]``; without ``label`` the classes in turn."""
        z1 = super().sample(self._parts(variables)[1], key, num, label)
        return self._images(variables, z1)

    def reconstruct(self, variables: Variables, x: jax.Array,
                    label: jax.Array | None = None) -> jax.Array:
        """M1's reconstruction: its decoder's mean at its posterior mean."""
        del label  # M1 does not see the class
        return self._images(variables, self._codes(variables, x, None))


def build_stacked(config: M1M2Config, info: DatasetInfo, *,
                  dtype: Dtype = jnp.float32) -> M1M2:
    """An :class:`M1M2` for ``info``'s data (one-line ``ValueError`` when it does not fit)."""
    return M1M2(config, info, dtype=dtype)


