"""The GAN update and the two-player optimizer: both players in one state, one jit.

The update proposes both players' new parameters; the engine's one update path
(:func:`gen_jax.train.commit_update`) commits them with the non-finite guard, EMA and counters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from ... import optim
from .._base import Proposal, all_finite
from ._losses import generator_loss

PLAYERS = ("generator", "discriminator")


class TwoPlayerTransform(NamedTuple):
    """An optax-style transformation holding one optimizer per player.

    ``init``/``update`` act on ``{"generator": ..., "discriminator": ...}`` trees (both players
    at once); the GAN step calls ``generator.update`` and ``discriminator.update`` separately so
    that each update touches only its own player's parameters and optimizer state.
    """

    init: Callable[[Any], Any]
    update: Callable[..., tuple[Any, Any]]
    generator: optax.GradientTransformation
    discriminator: optax.GradientTransformation


def two_player(
    generator: optax.GradientTransformation, discriminator: optax.GradientTransformation
) -> TwoPlayerTransform:
    """One transformation (state ``{"generator": ..., "discriminator": ...}``) from two."""
    txs = {"generator": generator, "discriminator": discriminator}

    def init(params):
        return {p: txs[p].init(params[p]) for p in PLAYERS}

    def update(grads, state, params=None):
        out = {p: txs[p].update(grads[p], state[p], None if params is None else params[p])
               for p in PLAYERS}
        return {p: out[p][0] for p in PLAYERS}, {p: out[p][1] for p in PLAYERS}

    return TwoPlayerTransform(init, update, generator, discriminator)


def make_gan_update(model: Any, preprocess: Callable, *, axis_name: str | None = None,
                    privacy: optim.DPSettings | None = None):
    """The update of a :class:`~gen_jax.models.GAN` (see :meth:`GAN.make_update` and
    :meth:`GAN.make_private_update`).

    Batch norm: every generator pass normalizes with its own batch's statistics, but only the
    passes of generator updates advance the generator's running statistics (once per update);
    the fakes each discriminator update draws leave them alone. So with ``n_critic`` > 1 or
    ``g_steps`` > 1 they average over generator updates, not over every generator pass (as
    in PyTorch's DCGAN, whose every pass in train mode advances them). Spectral norm's power
    iteration advances once per discriminator update, in its loss pass.

    Args:
      model: the GAN (its networks, config and objectives).
      preprocess: stored batch + key -> model batch (``{"x", "label"?}``).
      axis_name: the pmap axis to average gradients, metrics and statistics over, and over
        which the generator's batch norm normalizes (cross-replica: the shards are one global
        batch, as under ``jax.jit``, where the batch mean is already global; None there).
      privacy: DP-SGD for the discriminator (``jax.jit`` only, ``n_critic`` 1, ``pac`` 1,
        alternating updates: :meth:`GAN.check_privacy`). The batch carries ``weight``; each
        real example and the fake drawn beside it are one unit, whose discriminator loss
        (penalties included) has its gradient clipped, and the sum is noised
        (:func:`gen_jax.optim.private_gradient`). A conditional GAN's fakes (for both players)
        take uniform labels, not the private batch's, which through the generator's batch norm
        would reach every fake. The generator touches the data only through the private
        discriminator, so it inherits the guarantee.

    Returns:
      ``update(state, batch) -> (proposal, metrics)``, pure; ``state.tx`` must be a
      :class:`TwoPlayerTransform`. The proposal's ``finite`` is False when any update's loss or
      gradients were non-finite; its EMA covers the generator only.
    """
    cfg = model.config
    n_critic, pac, g_steps = cfg.n_critic, cfg.pac, cfg.g_steps
    if privacy is not None:
        model.check_privacy()

    def pmean(tree):
        return tree if axis_name is None else jax.lax.pmean(tree, axis_name)

    def step(state, batch):
        chex.assert_rank(state.step, 0)
        g_tx, d_tx = state.tx.generator, state.tx.discriminator
        key_data, key_d, key_g = jax.random.split(state.step_key(), 3)
        weights = None
        if privacy is not None:  # Poisson sampling's padding rows weigh 0
            weights = batch["weight"]
            batch = {k: v for k, v in batch.items() if k != "weight"}
        if axis_name is not None:  # a different noise stream per device shard
            index = jax.lax.axis_index(axis_name)
            key_data, key_d, key_g = (jax.random.fold_in(k, index)
                                      for k in (key_data, key_d, key_g))
        x, label = model.inputs(preprocess(batch, key_data))
        size = x.shape[0]
        if size % n_critic or (size // n_critic) % pac:
            raise ValueError(
                f"gan: a batch of {size} (per device) does not split into n_critic="
                f"{n_critic} parts that are multiples of pac={pac}; use a data.batch_size "
                f"that is a multiple of {n_critic * pac} per device")
        part = size // n_critic

        def parts(a):  # [B, ...] -> [n_critic, B / n_critic, ...], rows i::n_critic
            return a.reshape(part, n_critic, *a.shape[1:]).swapaxes(0, 1)

        stats = state.batch_stats or {}
        g_params = state.params["generator"]
        g_stats = stats.get("generator")

        def player_vars(params, player_stats):  # one player's Flax variables
            return {"params": params} | (
                {"batch_stats": player_stats} if player_stats is not None else {})

        g_vars = d_vars = player_vars

        def d_apply(grads, loss, metrics, d_params, d_opt):
            """One discriminator optimizer update; also whether its loss and grads are finite."""
            finite = jnp.isfinite(loss) & all_finite(grads)
            updates, d_opt = d_tx.update(grads, d_opt, d_params)
            metrics = {**metrics, "d_grad_norm": optax.tree.norm(grads)}
            return optax.apply_updates(d_params, updates), d_opt, finite, metrics

        def g_apply(grads, loss, g_params, g_opt):
            """One generator optimizer update; whether it was finite; the gradient's norm."""
            finite = jnp.isfinite(loss) & all_finite(grads)
            updates, g_opt = g_tx.update(grads, g_opt, g_params)
            return (optax.apply_updates(g_params, updates), g_opt, finite,
                    optax.tree.norm(grads))

        def uniform_labels(key, num):  # a conditional GAN's labels under DP: not the batch's
            return jax.random.randint(key, (num,), 0, model.num_classes, dtype=jnp.int32)

        def private_d_gradient(d_params, d_st, x_i, fake, label_i, fake_label, key_i):
            """DP-SGD's discriminator gradient: per (real, fake) pair, clipped and noised."""
            key_pen, key_noise = jax.random.split(jax.random.fold_in(key_i, 1))

            def pair_objective(dp, x_e, fake_e, label_e, fake_label_e, key_e):
                def one(v):
                    return None if v is None else v[None]

                return model.discriminator_objective(
                    d_vars(dp, d_st), x_e[None], fake_e[None], one(label_e), key_e,
                    fake_label=one(fake_label_e))

            # Each pair's gradient norm first, then one backward pass through the clipped sum
            # (optim.clipped_gradient_sum: no [B, *params] array of per-pair gradients).
            pairs = (x_i, fake, label_i, fake_label, jax.random.split(key_pen, x_i.shape[0]))
            total, norms, (losses, (metrics, new_st)) = optim.clipped_gradient_sum(
                lambda dp, pair: pair_objective(dp, *pair), d_params, pairs, weights,
                privacy.clip_norm, norm_chunk=privacy.norm_chunk)
            grads = optim.noisy_mean(total, privacy, key_noise)
            metrics = optim.private_metrics({"objective": losses, **metrics}, weights, norms,
                                            privacy)
            # Spectral norm's power iteration reads the weights only: every pair's is the same.
            new_st = None if new_st is None else jax.tree.map(lambda v: v[0], new_st)
            return metrics.pop("objective"), metrics, new_st, grads

        def alternating():
            def d_update(carry, inputs):
                d_params, d_opt, d_st, ok = carry
                x_i, label_i, key_i = inputs
                key_z, key_pen = jax.random.split(key_i)
                fake_label = label_i
                if privacy is not None and label_i is not None:
                    fake_label = uniform_labels(jax.random.fold_in(key_i, 2), part)
                fake, _ = model.generate(g_vars(g_params, g_stats), model.noise(key_z, part),
                                        fake_label, train=True, axis_name=axis_name)
                fake = jax.lax.stop_gradient(fake)

                def loss_fn(dp):
                    return model.discriminator_objective(d_vars(dp, d_st), x_i, fake, label_i,
                                                        key_pen)

                if privacy is None:
                    (loss, (metrics, new_st)), grads = jax.value_and_grad(
                        loss_fn, has_aux=True)(d_params)
                    grads, loss, metrics, new_st = pmean((grads, loss, metrics, new_st))
                else:
                    loss, metrics, new_st, grads = private_d_gradient(
                        d_params, d_st, x_i, fake, label_i, fake_label, key_i)
                d_params, d_opt, finite, metrics = d_apply(grads, loss, metrics, d_params,
                                                           d_opt)
                return (d_params, d_opt, d_st if new_st is None else new_st,
                        ok & finite), metrics

            keys = jax.random.split(key_d, n_critic)
            x_parts = parts(x)
            labels = None if label is None else parts(label)
            carry = (state.params["discriminator"], state.opt_state["discriminator"],
                     stats.get("discriminator"), jnp.array(True))
            per_update = []
            for i in range(n_critic):  # unrolled: n_critic is small
                carry, metrics_i = d_update(
                    carry, (x_parts[i], None if labels is None else labels[i], keys[i]))
                per_update.append(metrics_i)
            d_params, d_opt, d_st, d_ok = carry
            d_metrics = jax.tree.map(lambda *m: jnp.mean(jnp.stack(m)), *per_update)
            g_label = None if label is None else labels[0]
            if privacy is not None and label is not None:
                g_label = uniform_labels(jax.random.fold_in(key_g, 1), part)

            def g_update(carry, key):
                gp, g_opt, g_st, ok = carry

                def g_loss_fn(gp):
                    fake, new_g_st = model.generate(g_vars(gp, g_st), model.noise(key, part),
                                                   g_label, train=True, axis_name=axis_name)
                    d_fake, _ = model.discriminate(d_vars(d_params, d_st), fake, g_label)
                    return generator_loss(cfg.loss, d_fake), new_g_st

                (loss, new_g_st), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(gp)
                grads, loss, new_g_st = pmean((grads, loss, new_g_st))
                gp, g_opt, finite, grad_norm = g_apply(grads, loss, gp, g_opt)
                return (gp, g_opt, g_st if new_g_st is None else new_g_st, ok & finite), (
                    loss, grad_norm)

            # One key as before when g_steps is 1, so such runs are unchanged by the option.
            g_keys = [key_g] if g_steps == 1 else list(jax.random.split(key_g, g_steps))
            carry = (g_params, state.opt_state["generator"], g_stats, jnp.array(True))
            per_g = []
            for key in g_keys:  # unrolled, as the discriminator's updates
                carry, out = g_update(carry, key)
                per_g.append(out)
            g_loss, g_norm = (jnp.mean(jnp.stack(m)) for m in zip(*per_g, strict=True))
            return (d_params, d_opt, d_st, d_ok, d_metrics), (*carry, g_loss, g_norm)

        def simultaneous():
            d_params, d_st = state.params["discriminator"], stats.get("discriminator")
            key_z, key_pen = jax.random.split(key_d)
            z = model.noise(key_z, size)

            def joint_loss(params):
                # d_loss sees the fakes as data, g_loss sees the discriminator as fixed: the
                # gradient of their sum is (grad_D d_loss, grad_G g_loss) at this step's point
                # (g_loss's spectral-norm estimate, if any, is the one d_loss's pass advanced).
                dp, gp = params
                fake, new_g_st = model.generate(g_vars(gp, g_stats), z, label, train=True,
                                                axis_name=axis_name)
                d_loss, (metrics, new_d_st) = model.discriminator_objective(
                    d_vars(dp, d_st), x, jax.lax.stop_gradient(fake), label, key_pen)
                frozen = jax.lax.stop_gradient(d_vars(dp, d_st if new_d_st is None else new_d_st))
                d_fake, _ = model.discriminate(frozen, fake, label)
                g_loss = generator_loss(cfg.loss, d_fake)
                return d_loss + g_loss, (d_loss, g_loss, metrics, new_d_st, new_g_st)

            (_, aux), (d_grads, g_grads) = jax.value_and_grad(joint_loss, has_aux=True)(
                (d_params, g_params))
            d_grads, g_grads, aux = pmean((d_grads, g_grads, aux))
            d_loss, g_loss, d_metrics, new_d_st, new_g_st = aux
            d_params, d_opt, d_ok, d_metrics = d_apply(
                d_grads, d_loss, d_metrics, d_params, state.opt_state["discriminator"])
            new_g_params, g_opt, g_ok, g_norm = g_apply(g_grads, g_loss, g_params,
                                                        state.opt_state["generator"])
            return ((d_params, d_opt, d_st if new_d_st is None else new_d_st, d_ok, d_metrics),
                    (new_g_params, g_opt, new_g_st, g_ok, g_loss, g_norm))

        (d_params, d_opt, d_st, d_ok, d_metrics), (
            new_g_params, g_opt, new_g_stats, g_ok, g_loss, g_norm) = (
            simultaneous() if cfg.update == "simultaneous" else alternating())

        finite = d_ok & g_ok
        params = {"generator": new_g_params, "discriminator": d_params}
        opt_state = {"generator": g_opt, "discriminator": d_opt}
        new_stats = dict(stats)
        if new_g_stats is not None:
            new_stats["generator"] = new_g_stats
        if d_st is not None:
            new_stats["discriminator"] = d_st
        metrics = {**d_metrics, "loss": d_metrics["d_loss"], "g_loss": g_loss,
                   "grad_norm": g_norm}
        proposal = Proposal(params, opt_state, new_stats if state.batch_stats is not None else None,
                            finite, ema_players=("generator",))
        return proposal, metrics

    return step
