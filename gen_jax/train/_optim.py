"""optax optimizers and schedules from an :class:`~gen_jax.config.OptimConfig`."""

from __future__ import annotations

import optax

from ..config import OptimConfig


def make_schedule(cfg: OptimConfig, total_steps: int) -> optax.Schedule:
    """The learning-rate schedule of ``cfg`` over a run of ``total_steps``."""
    peak = cfg.learning_rate
    decay_steps = max(cfg.decay_steps or total_steps, 1)
    if cfg.schedule == "constant":
        if cfg.warmup_steps:
            return optax.linear_schedule(0.0, peak, cfg.warmup_steps)
        return optax.constant_schedule(peak)
    if cfg.schedule == "cosine":
        return optax.cosine_decay_schedule(peak, decay_steps, alpha=cfg.end_factor)
    if cfg.schedule == "warmup_cosine":
        return optax.warmup_cosine_decay_schedule(
            0.0, peak, cfg.warmup_steps, max(decay_steps, cfg.warmup_steps + 1),
            end_value=peak * cfg.end_factor,
        )
    if cfg.schedule == "exponential":
        if cfg.end_factor <= 0:
            raise ValueError("exponential schedule needs 0 < optim.end_factor < 1 (the final "
                             "learning rate as a fraction of the peak)")
        return optax.exponential_decay(peak, decay_steps, cfg.end_factor,
                                       transition_begin=cfg.warmup_steps)
    raise ValueError(f"unknown schedule {cfg.schedule!r}; use constant, cosine, warmup_cosine "
                     "or exponential")


def make_optimizer(cfg: OptimConfig, total_steps: int) -> optax.GradientTransformation:
    """Gradient clipping (optional) followed by the configured optimizer and schedule."""
    lr = make_schedule(cfg, total_steps)
    if cfg.optimizer == "adam":
        opt = optax.adam(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
    elif cfg.optimizer == "adamw":
        opt = optax.adamw(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "adamax":
        opt = optax.adamax(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
    elif cfg.optimizer == "sgd":
        opt = optax.sgd(lr, momentum=cfg.b1 or None)
    elif cfg.optimizer == "rmsprop":
        opt = optax.rmsprop(lr, decay=cfg.b2, eps=cfg.eps)
    elif cfg.optimizer == "lamb":
        opt = optax.lamb(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay)
    else:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}; use adam, adamw, adamax, sgd, "
                         "rmsprop or lamb")
    if cfg.weight_decay and cfg.optimizer not in ("adamw", "lamb"):
        opt = optax.chain(optax.add_decayed_weights(cfg.weight_decay), opt)
    if cfg.grad_clip_norm is not None:
        opt = optax.chain(optax.clip_by_global_norm(cfg.grad_clip_norm), opt)
    return opt
