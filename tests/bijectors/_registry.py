"""Every bijector of gen_jax.bijectors, built small, with random (non-identity) parameters.

A case's ``setup(key)`` returns ``(params, make)``: ``make(params, context)`` builds the bijector
from arrays only, so a test can cast the parameters to float64, ``jit`` over them, or vmap them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import distrax
import jax
import jax.numpy as jnp
import numpy as np

import gen_jax.bijectors as gb
from gen_jax.nn import MADE

IMAGE = (4, 4, 2)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[jax.Array], tuple[Any, Callable[[Any, jax.Array | None], Any]]]
    event_shape: tuple[int, ...]  # of the forward's input
    context_dim: int | None = None
    unit_interval: bool = False  # inputs must lie in (0, 1)

    def __repr__(self):
        return self.name


def _split(key, n):
    return list(jax.random.split(key, n))


def _seed(key) -> int:
    return int(jax.random.randint(key, (), 0, 2**31 - 1))


def random_params(module, key, *args, scale: float = 1.0):
    """Random variables for ``module`` drawn in numpy from the shapes ``init`` would give.

    Much faster than compiling each network's ``init`` (which dominated the run time), and the
    layers are far from the identity: kernels ``N(0, scale^2 / fan_in)``, biases ``N(0, 0.1^2)``.
    """
    shapes = jax.eval_shape(module.init, jax.random.key(0), *args)
    rng = np.random.default_rng(_seed(key))

    def draw(leaf):
        if len(leaf.shape) == 1:
            return jnp.asarray(0.1 * rng.normal(size=leaf.shape), leaf.dtype)
        fan_in = int(np.prod(leaf.shape[:-1]))
        return jnp.asarray(scale * rng.normal(size=leaf.shape) / np.sqrt(fan_in), leaf.dtype)

    return jax.tree.map(draw, shapes)


def random_lu_params(key, channels: int) -> gb.LUConvParams:
    """LU parameters of a random (not orthogonal) invertible weight, drawn in numpy."""
    rng = np.random.default_rng(_seed(key))
    return gb.LUConvParams(
        permutation=jnp.asarray(rng.permutation(channels), jnp.int32),
        lower=jnp.asarray(0.3 * rng.normal(size=(channels, channels)), jnp.float32),
        upper=jnp.asarray(0.3 * rng.normal(size=(channels, channels)), jnp.float32),
        log_s=jnp.asarray(0.3 * rng.normal(size=channels), jnp.float32),
        sign_s=jnp.asarray(rng.choice([-1.0, 1.0], size=channels), jnp.float32),
    )


def _stack(trees):
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


# ----- couplings --------------------------------------------------------------------------------


def _mlp_coupling(cls, mask, num_params, context_dim=None, **kwargs):
    mask = np.asarray(mask)
    part = gb.Partition(mask)
    net = gb.MLPConditioner(out_shape=(*part.params_shape, num_params), hidden=(16,),
                            activation="tanh", zero_init=False)

    def setup(key):
        h = jnp.zeros(part.conditioner_input(jnp.zeros(mask.shape)).shape)
        ctx = None if context_dim is None else jnp.zeros(context_dim)
        params = random_params(net, key, h, ctx)

        def make(params, context):
            cond = (lambda h: net.apply(params, h)) if context is None else (
                lambda h, c: net.apply(params, h, c))
            return cls(mask, cond, context=context, **kwargs)

        return params, make

    return setup


def _conv_coupling(cls, mask, num_params, context_dim=None, scale=3.0, **kwargs):
    mask = np.asarray(mask)
    part = gb.Partition(mask)
    net = gb.ConvConditioner(out_channels=part.params_shape[-1], num_params=num_params,
                             hidden=8, activation="tanh", zero_init=False)

    def setup(key):
        h = jnp.zeros(part.conditioner_input(jnp.zeros(mask.shape)).shape)
        ctx = None if context_dim is None else jnp.zeros(context_dim)
        # Larger weights, so that the layer is far from the identity (but a spline's bins stay
        # wide enough for float32 round trips).
        params = random_params(net, key, h, ctx, scale=scale)

        def make(params, context):
            cond = (lambda h: net.apply(params, h)) if context is None else (
                lambda h, c: net.apply(params, h, c))
            return cls(mask, cond, context=context, **kwargs)

        return params, make

    return setup


SPLINE = dict(num_bins=4, tail_bound=2.0)
K = SPLINE["num_bins"]

# ----- autoregressive ---------------------------------------------------------------------------


def _made_layer(dim, transformer, direction, order="identity", context_dim=None):
    made = MADE(dim=dim, hidden=(12, 12), num_params=transformer.num_params, order=order,
                activation="tanh")

    def setup(key):
        ctx = None if context_dim is None else jnp.zeros(context_dim)
        params = random_params(made, key, jnp.zeros(dim), ctx)

        def make(params, context):
            cond = (lambda u: made.apply(params, u)) if context is None else (
                lambda u, c: made.apply(params, u, c))
            return gb.MaskedAutoregressive(cond, transformer=transformer, direction=direction,
                                           context=context)

        return params, make

    return setup


# ----- image layers -----------------------------------------------------------------------------


def _actnorm(key):
    k1, k2 = _split(key, 2)
    params = gb.ActNormParams(0.5 * jax.random.normal(k1, (2,)), jax.random.normal(k2, (2,)))
    return params, lambda p, _: gb.ActNorm(p)


def _conv1x1(key):
    params = random_lu_params(key, 3)
    return params, lambda p, _: gb.InvertibleConv1x1(p)


def _glow_step_setup(shape):
    """ActNorm -> 1x1 conv -> affine coupling (channel mask): one Glow step."""
    mask = gb.channel_mask(shape)
    cond_setup = _conv_coupling(gb.AffineCoupling, mask, 2, scale=1.0)

    def setup(key):
        k1, k2, k3 = _split(key, 3)
        channels = shape[-1]
        actnorm = gb.ActNormParams(*(0.3 * jax.random.normal(k1, (2, channels))))
        coupling_params, make_coupling = cond_setup(k3)
        params = (actnorm, random_lu_params(k2, channels), coupling_params)

        def make(params, context):
            actnorm, conv, coupling = params
            return distrax.Chain([make_coupling(coupling, None), gb.InvertibleConv1x1(conv),
                                  gb.ActNorm(actnorm)])

        return params, make

    return setup


def _scan(step_setup, num_layers=3):
    def setup(key):
        _, make_step = step_setup(key)  # the builder does not depend on the key
        params = _stack([step_setup(k)[0] for k in _split(key, num_layers)])
        return params, lambda p, c: gb.Scan(lambda q: make_step(q, c), p)

    return setup


def _spline_block(dim):
    """Reverse permutation, then a spline coupling: a block that can be repeated."""
    coupling = _mlp_coupling(gb.SplineCoupling, gb.half_mask(dim), gb.spline_num_params(K),
                             **SPLINE)

    def setup(key):
        params, make_coupling = coupling(key)
        return params, lambda p, c: distrax.Chain([make_coupling(p, c), gb.Permute.reverse(dim)])

    return setup


def _multiscale(key):
    levels = gb.multiscale_shapes(IMAGE, 2)  # [(2, 2, 8), (1, 1, 16)]
    setups = [_glow_step_setup(shape) for shape in levels]
    built = [s(k) for s, k in zip(setups, _split(key, len(setups)), strict=True)]
    params = [p for p, _ in built]

    def make(params, _):
        levels = [m(p, None) for (_, m), p in zip(built, params, strict=True)]
        return gb.MultiScaleFlow(levels, IMAGE)

    return params, make


def _permute_random(key):
    perm = jax.random.permutation(key, 3)
    return {"permutation": perm}, lambda p, _: gb.Permute(p["permutation"], event_ndims=3)


def _no_params(bijector):
    return lambda key: ({}, lambda p, _: bijector)


# Channel-mask affine couplings run inside the Glow steps of scan_glow_steps and multiscale_flow.
CASES = [
    Case("affine_coupling_half", _mlp_coupling(gb.AffineCoupling, gb.half_mask(5), 2), (5,)),
    Case("affine_coupling_interleaved",
         _mlp_coupling(gb.AffineCoupling, np.arange(6) % 2 == 0, 2), (6,)),
    Case("affine_coupling_conditional",
         _mlp_coupling(gb.AffineCoupling, gb.half_mask(4, flip=True), 2, context_dim=3), (4,),
         context_dim=3),
    Case("affine_coupling_checkerboard",
         _conv_coupling(gb.AffineCoupling, gb.checkerboard_mask(IMAGE), 2), IMAGE),
    Case("spline_coupling_half",
         _mlp_coupling(gb.SplineCoupling, gb.half_mask(4), gb.spline_num_params(K), **SPLINE),
         (4,)),
    Case("spline_coupling_unconstrained",
         _mlp_coupling(gb.SplineCoupling, gb.half_mask(4, flip=True),
                       gb.spline_num_params(K, "unconstrained"), boundary_slopes="unconstrained",
                       **SPLINE), (4,)),
    Case("spline_coupling_checkerboard_conditional",
         _conv_coupling(gb.SplineCoupling, gb.checkerboard_mask(IMAGE, flip=True),
                        gb.spline_num_params(K), context_dim=2, scale=1.0, **SPLINE),
         IMAGE, context_dim=2),
    Case("maf_affine", _made_layer(4, gb.AffineTransformer(), "maf"), (4,)),
    Case("maf_spline", _made_layer(4, gb.SplineTransformer(**SPLINE), "maf", "reversed"), (4,)),
    Case("iaf_affine", _made_layer(4, gb.AffineTransformer(), "iaf", "reversed"), (4,)),
    Case("iaf_spline_conditional",
         _made_layer(4, gb.SplineTransformer(**SPLINE), "iaf", [2, 0, 3, 1], context_dim=3), (4,),
         context_dim=3),
    Case("actnorm", _actnorm, IMAGE),
    Case("invertible_conv1x1", _conv1x1, (4, 4, 3)),
    Case("squeeze", _no_params(gb.Squeeze()), IMAGE),
    Case("permute_reverse", _no_params(gb.Permute.reverse(5)), (5,)),
    Case("permute_random_channels", _permute_random, (4, 4, 3)),
    Case("logit", _no_params(gb.Logit(0.05, event_ndims=1)), (5,), unit_interval=True),
    Case("scan_glow_steps", _scan(_glow_step_setup(IMAGE)), IMAGE),
    Case("scan_spline_blocks", _scan(_spline_block(4)), (4,)),
    Case("multiscale_flow", _multiscale, (int(np.prod(IMAGE)),)),
]


@functools.cache
def built(case: Case) -> tuple[Any, Callable[[Any, jax.Array | None], Any]]:
    """``case.setup`` with a fixed key, once per session, in float32 whichever test asks first."""
    with jax.enable_x64(False):
        return case.setup(jax.random.key(0))


def sample_inputs(case: Case, key: jax.Array, batch_shape: tuple[int, ...] = (),
                  dtype=jnp.float32) -> tuple[jax.Array, jax.Array | None]:
    """Forward inputs ``[*batch_shape, *event_shape]`` and a context (or None)."""
    k1, k2 = jax.random.split(key)
    shape = (*batch_shape, *case.event_shape)
    if case.unit_interval:
        x = jax.random.uniform(k1, shape, dtype, 0.02, 0.98)
    else:
        x = 1.5 * jax.random.normal(k1, shape, dtype)  # reaches past the splines' tail bound 2
    context = None
    if case.context_dim is not None:
        context = jax.random.normal(k2, (*batch_shape, case.context_dim), dtype)
    return x, context


def cast_floats(tree: Any, dtype) -> Any:
    """Float leaves to ``dtype`` (integer leaves, e.g. permutations, unchanged)."""
    return jax.tree.map(
        lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)
