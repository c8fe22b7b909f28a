"""Flax modules that own a flow's parameters and build its distrax bijector from them.

Every stack of identical layers keeps its parameters stacked on a leading axis and runs through
:class:`gen_jax.bijectors.Scan`, so compile time does not grow with depth. The bijector maps a
flat standard-normal latent ``[..., D]`` (forward) to a point of the model space (``[..., D]``
for vector flows, ``[..., H, W, C]`` for multi-scale flows).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from flax import linen as nn

from ... import bijectors as gb
from ...nn import MADE, output_dtype
from ._config import FlowConfig, GlowConfig, MAFConfig, NSFConfig, RealNVPConfig

Dtype = Any
PyTree = Any


def _cast(f: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """``f`` with its output in its input's dtype (at least float32), so that a bfloat16
    conditioner leaves the bijector's arithmetic in float32 (and float64 stays float64)."""
    return lambda h, *rest: f(h, *rest).astype(output_dtype(h.dtype))


def _conditioner(net: nn.Module, variables: PyTree, context: jax.Array | None):
    if context is None:
        return _cast(lambda h: net.apply(variables, h))
    return _cast(lambda h, c: net.apply(variables, h, c))


def _transformer_params(config: FlowConfig) -> tuple[Any, int]:
    """The elementwise transformer of ``config``'s couplings / MADE layers and its size."""
    spline = isinstance(config, NSFConfig) or (
        isinstance(config, MAFConfig) and config.transformer == "spline")
    if spline:
        t = gb.SplineTransformer(config.num_bins, config.tail_bound)
    else:
        t = gb.AffineTransformer(config.log_scale_bound)
    return t, t.num_params


class _Flow(nn.Module):
    """Entry points shared by the flow modules; subclasses define the compact ``bijector``."""

    def bijector(self, y: jax.Array | None = None,
                 context: jax.Array | None = None) -> distrax.Bijector:
        raise NotImplementedError

    def _log_prob(self, bijector: distrax.Bijector, y: jax.Array) -> jax.Array:
        z, log_det = bijector.inverse_and_log_det(y)
        return jnp.sum(jax.scipy.stats.norm.logpdf(z), axis=-1) + log_det

    def log_prob(self, y: jax.Array, context: jax.Array | None = None) -> jax.Array:
        """``log p(y)`` ``[B]`` under the standard normal base."""
        return self._log_prob(self.bijector(None, context), y)

    def sample(self, z: jax.Array, context: jax.Array | None = None) -> jax.Array:
        """Latent ``[B, D]`` -> model space."""
        return self.bijector(None, context).forward(z)

    def bijector_init(self, y: jax.Array, context: jax.Array | None = None) -> jax.Array:
        """The ``init`` entry point: builds the parameters from the batch ``y`` (ActNorm)."""
        return self._log_prob(self.bijector(y, context), y)


class VectorFlow(_Flow):
    """Couplings (realnvp, nsf) or MADE layers (maf) on ``[..., dim]`` vectors.

    Attributes:
      config: the family's config.
      dim: event size D.
      context_dim: size of the context vector (0: unconditional).
      dtype: conditioner compute dtype (None: promote from inputs and parameters).
    """

    config: FlowConfig
    dim: int
    context_dim: int = 0
    dtype: Dtype | None = None

    @nn.compact
    def bijector(self, y: jax.Array | None = None,
                 context: jax.Array | None = None) -> distrax.Bijector:
        """The flow as a bijector, latent ``[..., D]`` -> model space ``[..., D]``."""
        cfg, dim = self.config, self.dim
        transformer, num_params = _transformer_params(cfg)
        ctx = jnp.zeros((self.context_dim,)) if self.context_dim else None
        if isinstance(cfg, MAFConfig):
            net = MADE(dim=dim, hidden=cfg.hidden, num_params=num_params,
                       activation=cfg.activation, output_init=nn.initializers.zeros_init(),
                       dtype=self.dtype)
            example = jnp.zeros((dim,))

            def make_layer(p):
                made = _conditioner(net, p, context)
                return distrax.Chain([
                    gb.MaskedAutoregressive(made, transformer=transformer,
                                            direction=cfg.direction, context=context),
                    gb.Permute.reverse(dim)])
        else:
            mask = gb.half_mask(dim)
            part = gb.Partition(mask)
            net = gb.MLPConditioner(out_shape=(*part.params_shape, num_params),
                                    hidden=cfg.hidden, activation=cfg.activation,
                                    dtype=self.dtype)
            example = jnp.zeros(part.conditioner_input(jnp.zeros(dim)).shape)

            def make_layer(p):
                cond = _conditioner(net, p, context)
                coupling = gb.Coupling(mask, cond, transformer, context=context)
                return distrax.Chain([coupling, gb.Permute.reverse(dim)])

        stacked = self.param("layers", lambda key: gb.stacked_init(
            lambda k: net.init(k, example, ctx), key, cfg.num_layers))
        return gb.Scan(make_layer, stacked, unroll=cfg.scan_unroll)


def _lu_constants(channels: int, count: int, seed: int) -> dict[str, np.ndarray]:
    """LU factors of ``count`` random rotations (Glow's 1x1 convolution initialization).

    Computed in numpy from a fixed seed, so the integer permutation and the signs, which are
    not trained, are constants of the architecture rather than parameters.
    """
    rng = np.random.default_rng(seed)
    out = {"permutation": [], "sign_s": [], "lower": [], "upper": [], "log_s": []}
    for _ in range(count):
        q, _ = np.linalg.qr(rng.standard_normal((channels, channels)))
        p, lower, upper = scipy.linalg.lu(q)
        diag = np.diagonal(upper)
        out["permutation"].append(np.argmax(p, axis=1))
        out["sign_s"].append(np.sign(diag))
        out["lower"].append(np.tril(lower, -1))
        out["upper"].append(np.triu(upper, 1))
        out["log_s"].append(np.log(np.abs(diag)))
    stacked = {k: np.stack(v) for k, v in out.items()}
    stacked["permutation"] = stacked["permutation"].astype(np.int32)
    return {k: (v if k == "permutation" else v.astype(np.float32)) for k, v in stacked.items()}


def _step_masks(config: FlowConfig, shape: tuple[int, int, int]) -> list[np.ndarray]:
    """The coupling masks of one multi-scale step."""
    if isinstance(config, RealNVPConfig):
        return [gb.checkerboard_mask(shape), gb.checkerboard_mask(shape, flip=True),
                gb.channel_mask(shape), gb.channel_mask(shape, flip=True)]
    return [gb.channel_mask(shape)]


class MultiScaleImageFlow(_Flow):
    """Glow / RealNVP multi-scale flow on ``[..., H, W, C]`` images.

    A step is ``ActNorm -> [1x1 convolution] -> coupling(s)`` in the data -> latent direction
    (glow and nsf: one channel coupling after an LU 1x1 convolution; realnvp: four couplings,
    checkerboard and channel masks, no 1x1 convolution). ActNorm is initialized from the data
    on the first call of ``init`` (Glow's data-dependent initialization).

    Attributes:
      config: the family's config.
      shape: image shape ``(H, W, C)``.
      context_dim: size of the context vector (0: unconditional).
      dtype: conditioner compute dtype (None: promote from inputs and parameters).
    """

    config: FlowConfig
    shape: tuple[int, int, int]
    context_dim: int = 0
    dtype: Dtype | None = None

    def _uses_conv1x1(self) -> bool:
        return not isinstance(self.config, RealNVPConfig)

    def _nets(self, shape, num_params) -> list[tuple[np.ndarray, gb.ConvConditioner]]:
        nets = []
        for mask in _step_masks(self.config, shape):
            part = gb.Partition(mask)
            nets.append((mask, gb.ConvConditioner(
                out_channels=part.params_shape[-1], num_params=num_params,
                hidden=self.config.hidden[0], activation=self.config.activation,
                dtype=self.dtype)))
        return nets

    def _step(self, p: PyTree, c: PyTree, nets, transformer, context) -> distrax.Bijector:
        layers = [gb.ActNorm(p["actnorm"])]
        if self._uses_conv1x1():
            layers.append(gb.InvertibleConv1x1(gb.LUConvParams(
                permutation=c["permutation"], lower=p["lower"], upper=p["upper"],
                log_s=p["log_s"], sign_s=c["sign_s"])))
        for (mask, net), variables in zip(nets, p["couplings"], strict=True):
            cond = _conditioner(net, variables, context)
            layers.append(gb.Coupling(mask, cond, transformer, context=context))
        # distrax.Chain's inverse (data -> latent) applies its first element first.
        return distrax.Chain(layers)

    def _init_level(self, key, h, shape, nets, constants, transformer, ctx):
        """Stacked parameters of one level, ActNorm initialized from ``h`` as it flows through
        the level's steps in the data -> latent direction (the last step first)."""
        num_steps = self.config.num_layers

        def step_init(h, xs):
            k, c = xs
            an = gb.actnorm_init(h, direction="inverse")
            h = gb.ActNorm(an).inverse(h)
            p = {"actnorm": an._asdict()}
            if self._uses_conv1x1():
                p |= {name: c[name] for name in ("lower", "upper", "log_s")}
                h = gb.InvertibleConv1x1(gb.LUConvParams(
                    permutation=c["permutation"], lower=p["lower"], upper=p["upper"],
                    log_s=p["log_s"], sign_s=c["sign_s"])).inverse(h)
            keys = jax.random.split(k, len(nets))
            # Zero-initialized conditioners: every coupling starts as the identity, so h is
            # what the next step's ActNorm sees.
            p["couplings"] = [
                net.init(kk, gb.Partition(mask).conditioner_input(jnp.zeros(shape)), ctx)
                for kk, (mask, net) in zip(keys, nets, strict=True)]
            return h, p

        xs = (jax.random.split(key, num_steps), constants)
        h, stacked = jax.lax.scan(step_init, h, xs, reverse=True)
        return h, stacked

    @nn.compact
    def bijector(self, y: jax.Array | None = None,
                 context: jax.Array | None = None) -> distrax.Bijector:
        """The flow as a bijector, flat latent ``[..., H*W*C]`` -> image ``[..., H, W, C]``.

        ``y`` (a batch of model-space images) is needed only by ``init``, for ActNorm.
        """
        cfg = self.config
        transformer, num_params = _transformer_params(cfg)
        shapes = gb.multiscale_shapes(self.shape, cfg.num_levels)
        ctx = jnp.zeros((self.context_dim,)) if self.context_dim else None
        init = self.is_initializing()
        if init and y is None:
            raise ValueError("a multi-scale flow initializes ActNorm from data: pass a batch")
        h = gb.squeeze(y) if init else None
        levels = []
        for level, shape in enumerate(shapes):
            nets = self._nets(shape, num_params)
            constants = {}
            if self._uses_conv1x1():
                constants = _lu_constants(shape[-1], cfg.num_layers, seed=level)

            def init_level(key, h=h, shape=shape, nets=nets, constants=constants):
                # Outside init Flax still traces this (abstractly) to check shapes: any
                # batch of the level's shape will do then.
                h = jnp.zeros((1, *shape)) if h is None else h
                consts = jax.tree.map(jnp.asarray, constants)
                return self._init_level(key, h, shape, nets, consts, transformer, ctx)[1]

            params = self.param(f"level_{level}", init_level)
            consts = jax.tree.map(jnp.asarray, constants)

            def make_step(pc, nets=nets):
                p, c = pc
                return self._step(p, c, nets, transformer, context)

            bij = gb.Scan(make_step, (params, consts) if consts else (params, _dummy(params)),
                          unroll=cfg.scan_unroll)
            levels.append(bij)
            if init and level < len(shapes) - 1:
                h, _ = bij.inverse_and_log_det(h)
                h = gb.squeeze(h[..., h.shape[-1] // 2:])
        return gb.MultiScaleFlow(levels, self.shape)


def _dummy(params: PyTree) -> dict[str, jax.Array]:
    """A per-layer placeholder for layers without constants (Scan maps over both)."""
    size = jax.tree.leaves(params)[0].shape[0]
    return {"none": jnp.zeros((size,))}


def flow_net(config: FlowConfig, shape: tuple[int, ...], context_dim: int, dtype) -> nn.Module:
    """The module for ``config`` on examples of ``shape`` (multi-scale for glow / arch conv)."""
    if isinstance(config, GlowConfig) or config.arch == "conv":
        return MultiScaleImageFlow(config, tuple(shape), context_dim, dtype)
    return VectorFlow(config, math.prod(shape), context_dim, dtype)
