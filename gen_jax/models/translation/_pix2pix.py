"""pix2pix (Isola et al. 2017): paired image-to-image translation with a conditional GAN.

A generator ``G`` maps a source image ``x`` to the target domain; a PatchGAN discriminator
``D`` sees the source beside a target image (their channels concatenated) and judges each
patch real (the pair's own target ``y``) or fake (``G(x)``). The generator minimizes the
adversarial loss plus ``l1_weight`` times ``|G(x) - y|_1`` (:mod:`._losses`). One step updates
the discriminator on ``G(x)``, then the generator against the updated discriminator (the
reference implementation's order), each with its own Adam (the paper: 2e-4, beta1 0.5).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import chex
import jax
import jax.numpy as jnp
import optax

from ... import optim
from ...data import DatasetInfo
from ...nn import output_dtype, params_in
from .._base import Batch, Metrics, Proposal, UpdateFn, Variables, all_finite
from ..gan import TwoPlayerTransform, two_player
from ._common import (
    GeneratorArch,
    NetworksConfig,
    check_pair,
    make_discriminator,
    make_generator,
    signed,
    unit,
)
from ._losses import (
    GanLoss,
    mean_abs,
    patch_discriminator_loss,
    patch_generator_loss,
    per_example_abs,
)


@dataclasses.dataclass(frozen=True)
class Pix2PixConfig(NetworksConfig):
    """pix2pix's networks and objective (defaults: the paper's, sized for 28x28 images; for
    256x256 ones the paper's U-Net has depth 8 and its 70x70 PatchGAN d_layers 3)."""

    generator: GeneratorArch = "unet"
    """unet (pix2pix's) or resnet (CycleGAN's)."""
    dropout: float = 0.5
    """Dropout of the U-Net's innermost decoder layers in training (the paper's noise)."""
    gan_loss: GanLoss = "non_saturating"
    """non_saturating (the paper's cross-entropy) or lsgan (least squares)."""
    l1_weight: float = 100.0
    """Weight of ``|G(x) - y|_1`` (on the [-1, 1] scale) beside the adversarial loss."""


class Pix2Pix:
    """pix2pix bound to a config and a paired translation data set (``Translation``,
    ``OwnUpdate``). Parameters ``{"generator", "discriminator"}``.

    Attributes:
      config: the :class:`Pix2PixConfig`.
      info: the source domain's :class:`~gen_jax.data.DatasetInfo`, with ``target``.
      num_classes: 0 (no class conditioning).
    """

    num_classes = 0

    def __init__(self, config: Pix2PixConfig, info: DatasetInfo, *, dtype: Any = jnp.float32):
        target = check_pair("pix2pix", info, config, paired=True)
        if config.l1_weight < 0 or not 0 <= config.dropout < 1:
            raise ValueError("pix2pix: l1_weight must be >= 0 and dropout in [0, 1)")
        self.config, self.info, self.dtype = config, info, dtype
        self.generator = make_generator(config, target.shape[-1], dtype)
        self.discriminator = make_discriminator(config, dtype)

    # ------------------------------------------------------------------ networks

    def _g(self, g_params: Any, x: jax.Array, key: jax.Array | None) -> jax.Array:
        """``G(x)`` on the ``[-1, 1]`` scale; dropout on when ``key`` is given."""
        rngs = None if key is None else {"dropout": key}
        return self.generator.apply({"params": g_params}, signed(x), train=key is not None,
                                    rngs=rngs)

    def _d(self, d_params: Any, x: jax.Array, y_signed: jax.Array) -> jax.Array:
        """Patch logits of the pair (source ``x`` in ``[0, 1]``, target on ``[-1, 1]``)."""
        pair = jnp.concatenate([signed(x), y_signed.astype(x.dtype)], axis=-1)
        return self.discriminator.apply({"params": d_params}, pair)

    # ------------------------------------------------------------------ the contract

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """``{"params": {"generator", "discriminator"}}`` for a batch with ``x`` and ``y``."""
        x, y = batch["x"], batch["y"]
        chex.assert_shape(x, (None, *self.info.shape))
        chex.assert_shape(y, (None, *self.info.target.shape))
        key_g, key_d = jax.random.split(key)
        g = self.generator.init({"params": key_g}, signed(x), train=False)["params"]
        d = self.discriminator.init({"params": key_d},
                                    jnp.concatenate([signed(x), signed(y)], axis=-1))["params"]
        return params_in({"params": {"generator": g, "discriminator": d}}, self.dtype)

    def _terms(self, params: Any, x: jax.Array, y: jax.Array, key: jax.Array | None
               ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The generator's loss and every term, the discriminator's loss on ``G(x)``."""
        cfg = self.config
        fake = self._g(params["generator"], x, key)
        d_real = self._d(params["discriminator"], x, signed(y))
        d_fake = self._d(params["discriminator"], x, fake)
        adv = patch_generator_loss(cfg.gan_loss, d_fake)
        l1 = mean_abs(fake, signed(y))
        return adv + cfg.l1_weight * l1, {
            "g_adv": adv, "l1": l1,
            "d_loss": patch_discriminator_loss(cfg.gan_loss, d_real, d_fake)}

    def loss(self, variables: Variables, batch: Batch, key: jax.Array, *, train: bool = True
             ) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """The generator's objective (adversarial + ``l1_weight`` x L1) on the batch, with its
        terms and the discriminator's loss as metrics (training goes through
        :meth:`make_update`)."""
        total, terms = self._terms(variables["params"], batch["x"], batch["y"],
                                   key if train else None)
        return total, (terms, {})

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per example: ``l1`` and ``mse``, the mean absolute and squared differences between
        ``G(x)`` and the counterpart ``y`` in ``[0, 1]``, and ``psnr`` (dB, peak 1)."""
        del key
        out = self.translate(variables, batch["x"])
        y = batch["y"].astype(out.dtype)
        mse = jnp.mean(((out - y) ** 2).reshape(out.shape[0], -1), axis=-1)
        return {"l1": per_example_abs(out, y), "mse": mse,
                "psnr": -10.0 * jnp.log10(jnp.maximum(mse, 1e-10))}

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """The translation's error ``mean |G(x) - y|`` against the example's counterpart."""
        return self.evaluate(variables, batch, key)["l1"]

    def translate(self, variables: Variables, x: jax.Array) -> jax.Array:
        """``G(x)`` in ``[0, 1]``: ``[B, *info.target.shape]`` (no dropout)."""
        return unit(self._g(variables["params"]["generator"], x, None)).astype(
            output_dtype(self.dtype))

    def make_optimizer(self, optim_config: Any, total_steps: int) -> TwoPlayerTransform:
        """The same optimizer (``optim_config``) for each network."""
        return two_player(optim.make_optimizer(optim_config, total_steps),
                          optim.make_optimizer(optim_config, total_steps))

    def make_update(self, preprocess: Callable, *, axis_name: str | None = None) -> UpdateFn:
        """``(state, batch) -> (proposal, metrics)``: a discriminator update on ``G(x)``, then a
        generator update against the updated discriminator (the same dropout draw)."""
        cfg = self.config

        def pmean(tree):
            return tree if axis_name is None else jax.lax.pmean(tree, axis_name)

        def update(state, batch):
            key_data, key_drop = jax.random.split(state.step_key())
            if axis_name is not None:
                index = jax.lax.axis_index(axis_name)
                key_data, key_drop = (jax.random.fold_in(k, index) for k in (key_data, key_drop))
            batch = preprocess(batch, key_data)
            x, y = batch["x"], batch["y"]
            params = state.params
            fake = jax.lax.stop_gradient(self._g(params["generator"], x, key_drop))

            def d_loss_fn(d_params):
                return patch_discriminator_loss(cfg.gan_loss, self._d(d_params, x, signed(y)),
                                                self._d(d_params, x, fake))

            d_loss, d_grads = jax.value_and_grad(d_loss_fn)(params["discriminator"])
            d_grads, d_loss = pmean((d_grads, d_loss))
            d_updates, d_opt = state.tx.discriminator.update(
                d_grads, state.opt_state["discriminator"], params["discriminator"])
            d_params = optax.apply_updates(params["discriminator"], d_updates)

            def g_loss_fn(g_params):
                total, terms = self._terms({"generator": g_params, "discriminator": d_params},
                                           x, y, key_drop)
                return total, terms

            (g_loss, terms), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
                params["generator"])
            g_grads, g_loss, terms = pmean((g_grads, g_loss, terms))
            g_updates, g_opt = state.tx.generator.update(
                g_grads, state.opt_state["generator"], params["generator"])
            g_params = optax.apply_updates(params["generator"], g_updates)
            finite = (jnp.isfinite(d_loss) & jnp.isfinite(g_loss) & all_finite(d_grads)
                      & all_finite(g_grads))
            proposal = Proposal({"discriminator": d_params, "generator": g_params},
                                {"discriminator": d_opt, "generator": g_opt}, None, finite)
            metrics = {"loss": g_loss, "d_loss": d_loss, "g_adv": terms["g_adv"],
                       "l1": terms["l1"], "d_grad_norm": optax.tree.norm(d_grads),
                       "grad_norm": optax.tree.norm(g_grads)}
            return proposal, metrics

        return update


def build_pix2pix(config: Pix2PixConfig, info: DatasetInfo, *, dtype: Any = jnp.float32) -> Pix2Pix:
    """The registry's builder."""
    return Pix2Pix(config, info, dtype=dtype)
