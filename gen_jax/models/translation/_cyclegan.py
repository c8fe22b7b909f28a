"""CycleGAN (Zhu et al. 2017): translation between two domains from unpaired examples.

Two generators, ``G`` from the data's domain X to the target domain Y and ``F`` back, and two
PatchGAN discriminators, ``D_Y`` (real ``y`` versus ``G(x)``) and ``D_X`` (real ``x`` versus
``F(y)``). The generators minimize

    ``L_adv(D_Y(G(x))) + L_adv(D_X(F(y)))
    + cycle_weight * (|F(G(x)) - x|_1 + |G(F(y)) - y|_1)
    + identity_weight * cycle_weight * (|G(y) - y|_1 + |F(x) - x|_1)``

(least squares by default; the identity term only between domains of one shape), then each
discriminator its loss on real images and on fakes drawn from a history of the last
``history`` generated images (Shrivastava et al. 2017; :func:`._losses.history_query`): the
reference implementation's order, generators first. The histories are non-parameter state
(``batch_stats["history"]``), checkpointed with the run.
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
    cycle_loss,
    history_init,
    history_query,
    mean_abs,
    patch_discriminator_loss,
    patch_generator_loss,
    per_example_abs,
)


@dataclasses.dataclass(frozen=True)
class CycleGANConfig(NetworksConfig):
    """CycleGAN's networks and objective (defaults: the paper's, sized for 28x28 images; the
    paper's 256x256 generator has 9 residual blocks and its discriminator d_layers 3)."""

    generator: GeneratorArch = "resnet"
    """resnet (CycleGAN's) or unet (pix2pix's)."""
    dropout: float = 0.0
    """Dropout of a unet generator's innermost decoder layers in training."""
    gan_loss: GanLoss = "lsgan"
    """lsgan (the paper's least squares) or non_saturating (cross-entropy)."""
    cycle_weight: float = 10.0
    """lambda of the cycle-consistency loss (on the [-1, 1] scale)."""
    identity_weight: float = 0.0
    """The identity loss's weight relative to cycle_weight (the reference's 0.5 for photo <->
    painting); needs both domains of one shape."""
    history: int = 50
    """Generated images each discriminator's history keeps (0: the newest fakes only)."""


class CycleGAN:
    """CycleGAN bound to a config and a translation data set (``Translation``,
    ``TranslationBack``, ``OwnUpdate``). Parameters ``{"generator": {"g", "f"},
    "discriminator": {"x", "y"}}`` (``G``: X -> Y, ``F``: Y -> X, ``D_X``, ``D_Y``).

    Attributes:
      config: the :class:`CycleGANConfig`.
      info: the domain X's :class:`~gen_jax.data.DatasetInfo`, with ``target`` (Y).
      num_classes: 0 (no class conditioning).
    """

    num_classes = 0

    def __init__(self, config: CycleGANConfig, info: DatasetInfo, *,
                 dtype: Any = jnp.float32):
        target = check_pair("cyclegan", info, config, paired=False)
        if min(config.cycle_weight, config.identity_weight) < 0 or config.history < 0:
            raise ValueError("cyclegan: cycle_weight, identity_weight and history must be >= 0")
        if not 0 <= config.dropout < 1:
            raise ValueError(f"cyclegan: dropout must lie in [0, 1), got {config.dropout}")
        if config.identity_weight and info.shape != target.shape:
            raise ValueError(f"cyclegan: the identity loss feeds each domain to the other's "
                             f"generator, but {info.name} is {info.shape} and {target.name} "
                             f"{target.shape}: set model.identity_weight 0")
        self.config, self.info, self.dtype = config, info, dtype
        self.g = make_generator(config, target.shape[-1], dtype)
        self.f = make_generator(config, info.shape[-1], dtype)
        self.discriminator = make_discriminator(config, dtype)

    # ------------------------------------------------------------------ networks

    def _gen(self, net: Any, params: Any, x: jax.Array, key: jax.Array | None) -> jax.Array:
        """A generator on ``[-1, 1]`` images (dropout on when ``key`` is given)."""
        rngs = None if key is None else {"dropout": key}
        return net.apply({"params": params}, x, train=key is not None, rngs=rngs)

    def _d(self, params: Any, image: jax.Array) -> jax.Array:
        return self.discriminator.apply({"params": params}, image)

    # ------------------------------------------------------------------ the contract

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """Both generators, both discriminators and empty histories, for a batch with ``x``
        and ``y``."""
        x, y = signed(batch["x"]), signed(batch["y"])
        chex.assert_shape(batch["x"], (None, *self.info.shape))
        chex.assert_shape(batch["y"], (None, *self.info.target.shape))
        kg, kf, kdx, kdy = jax.random.split(key, 4)
        params = {"generator": {"g": self.g.init({"params": kg}, x, train=False)["params"],
                                "f": self.f.init({"params": kf}, y, train=False)["params"]},
                  "discriminator": {"x": self.discriminator.init({"params": kdx}, x)["params"],
                                    "y": self.discriminator.init({"params": kdy}, y)["params"]}}
        dtype = output_dtype(self.dtype)
        history = {"x": history_init(self.config.history, self.info.shape, dtype),
                   "y": history_init(self.config.history, self.info.target.shape, dtype)}
        return params_in({"params": params}, self.dtype) | {"batch_stats": {"history": history}}

    def _generator_terms(self, g_params: Any, d_params: Any, x: jax.Array, y: jax.Array,
                         key: jax.Array | None) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The generators' loss and its terms, with the fakes ``G(x)``, ``F(y)`` (on the
        ``[-1, 1]`` scale) for the discriminators."""
        cfg = self.config
        keys = [None] * 4 if key is None else list(jax.random.split(key, 4))
        fake_y = self._gen(self.g, g_params["g"], x, keys[0])
        fake_x = self._gen(self.f, g_params["f"], y, keys[1])
        x_back = self._gen(self.f, g_params["f"], fake_y, keys[2])
        y_back = self._gen(self.g, g_params["g"], fake_x, keys[3])
        adv_y = patch_generator_loss(cfg.gan_loss, self._d(d_params["y"], fake_y))
        adv_x = patch_generator_loss(cfg.gan_loss, self._d(d_params["x"], fake_x))
        cycle = cycle_loss(x, x_back, y, y_back)
        total = adv_x + adv_y + cfg.cycle_weight * cycle
        terms = {"g_adv_x": adv_x, "g_adv_y": adv_y, "cycle": cycle}
        if cfg.identity_weight:
            identity = (mean_abs(self._gen(self.g, g_params["g"], y, None), y)
                        + mean_abs(self._gen(self.f, g_params["f"], x, None), x))
            total = total + cfg.identity_weight * cfg.cycle_weight * identity
            terms["identity"] = identity
        return total, terms | {"fake_x": fake_x, "fake_y": fake_y}

    def loss(self, variables: Variables, batch: Batch, key: jax.Array, *, train: bool = True
             ) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """The generators' objective on the batch with its terms as metrics (training goes
        through :meth:`make_update`)."""
        x, y = signed(batch["x"]), signed(batch["y"])
        params = variables["params"]
        total, terms = self._generator_terms(params["generator"], params["discriminator"], x, y,
                                             key if train else None)
        return total, ({k: v for k, v in terms.items() if not k.startswith("fake")}, {})

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per example: ``cycle_x`` and ``cycle_y``, the mean absolute round-trip errors
        ``|F(G(x)) - x|`` and ``|G(F(y)) - y|`` in ``[0, 1]``; with paired data also ``l1``,
        ``|G(x) - y|`` against the counterpart."""
        del key
        x, y = batch["x"], batch["y"]
        fake_y = self.translate(variables, x)
        out = {"cycle_x": per_example_abs(self.translate_back(variables, fake_y), x),
               "cycle_y": per_example_abs(
                   self.translate(variables, self.translate_back(variables, y)), y)}
        if self.info.paired:
            out["l1"] = per_example_abs(fake_y, y)
        return out

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """The round-trip error ``mean |F(G(x)) - x|``: how badly the example survives the
        trip through the other domain."""
        del key
        x = batch["x"]
        return per_example_abs(self.translate_back(variables, self.translate(variables, x)), x)

    def translate(self, variables: Variables, x: jax.Array) -> jax.Array:
        """``G(x)`` in ``[0, 1]``: ``[B, *info.target.shape]``."""
        out = self._gen(self.g, variables["params"]["generator"]["g"], signed(x), None)
        return unit(out).astype(output_dtype(self.dtype))

    def translate_back(self, variables: Variables, y: jax.Array) -> jax.Array:
        """``F(y)`` in ``[0, 1]``: ``[B, *info.shape]``."""
        out = self._gen(self.f, variables["params"]["generator"]["f"], signed(y), None)
        return unit(out).astype(output_dtype(self.dtype))

    def make_optimizer(self, optim_config: Any, total_steps: int) -> TwoPlayerTransform:
        """The same optimizer (``optim_config``) for the generators and the discriminators."""
        return two_player(optim.make_optimizer(optim_config, total_steps),
                          optim.make_optimizer(optim_config, total_steps))

    def make_update(self, preprocess: Callable, *, axis_name: str | None = None) -> UpdateFn:
        """``(state, batch) -> (proposal, metrics)``: the generators' update, then the
        discriminators' on real images and on their histories' answers for this step's fakes
        (under pmap the fakes of every device go through one history, identically on each)."""
        cfg = self.config

        def pmean(tree):
            return tree if axis_name is None else jax.lax.pmean(tree, axis_name)

        def update(state, batch):
            key_data, key_drop, key_hist = jax.random.split(state.step_key(), 3)
            if axis_name is not None:
                index = jax.lax.axis_index(axis_name)
                key_data, key_drop = (jax.random.fold_in(k, index) for k in (key_data, key_drop))
            batch = preprocess(batch, key_data)
            x, y = signed(batch["x"]), signed(batch["y"])
            params = state.params

            def g_loss_fn(g_params):
                return self._generator_terms(g_params, params["discriminator"], x, y, key_drop)

            (g_loss, terms), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
                params["generator"])
            g_grads, g_loss = pmean((g_grads, g_loss))
            g_updates, g_opt = state.tx.generator.update(
                g_grads, state.opt_state["generator"], params["generator"])
            g_params = optax.apply_updates(params["generator"], g_updates)

            history = state.batch_stats["history"]
            fakes, new_history = {}, {}
            for side, key in zip(("x", "y"), jax.random.split(key_hist), strict=True):
                fake = jax.lax.stop_gradient(terms["fake_" + side])
                if axis_name is None:
                    fakes[side], new_history[side] = history_query(history[side], fake, key)
                else:  # every device runs the whole batch through the same history
                    every = jax.lax.all_gather(fake, axis_name, tiled=True)
                    seen, new_history[side] = history_query(history[side], every, key)
                    fakes[side] = jax.lax.dynamic_slice_in_dim(
                        seen, jax.lax.axis_index(axis_name) * fake.shape[0], fake.shape[0])

            def d_loss_fn(d_params):
                loss_x = patch_discriminator_loss(cfg.gan_loss, self._d(d_params["x"], x),
                                                  self._d(d_params["x"], fakes["x"]))
                loss_y = patch_discriminator_loss(cfg.gan_loss, self._d(d_params["y"], y),
                                                  self._d(d_params["y"], fakes["y"]))
                return loss_x + loss_y, (loss_x, loss_y)

            (d_loss, (d_x, d_y)), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
                params["discriminator"])
            d_grads, d_loss, d_x, d_y = pmean((d_grads, d_loss, d_x, d_y))
            d_updates, d_opt = state.tx.discriminator.update(
                d_grads, state.opt_state["discriminator"], params["discriminator"])
            d_params = optax.apply_updates(params["discriminator"], d_updates)

            finite = (jnp.isfinite(d_loss) & jnp.isfinite(g_loss) & all_finite(d_grads)
                      & all_finite(g_grads))
            proposal = Proposal({"discriminator": d_params, "generator": g_params},
                                {"discriminator": d_opt, "generator": g_opt},
                                {"history": new_history}, finite)
            scalars = pmean({k: v for k, v in terms.items() if not k.startswith("fake")})
            metrics = {"loss": g_loss, "d_loss_x": d_x, "d_loss_y": d_y, **scalars,
                       "d_grad_norm": optax.tree.norm(d_grads),
                       "grad_norm": optax.tree.norm(g_grads)}
            return proposal, metrics

        return update


def build_cyclegan(config: CycleGANConfig, info: DatasetInfo, *,
                   dtype: Any = jnp.float32) -> CycleGAN:
    """The registry's builder."""
    return CycleGAN(config, info, dtype=dtype)
