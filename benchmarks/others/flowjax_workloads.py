"""W1-W3 and W6 (flow) in flowjax (JAX + equinox), with flowjax's own training step.

The layers are flowjax's: ``Coupling`` (conditioner ``eqx.nn.MLP``), ``MaskedAutoregressive``,
``RationalQuadraticSpline``, ``Flip`` and ``Scan``, stacked the way ``flowjax.flows`` stacks
them (``eqx.filter_vmap`` over layers, then ``Scan``). The step is
``flowjax.train.train_utils.step`` with ``MaximumLikelihoodLoss`` and optax Adam, the step
``flowjax.train.fit_to_data`` runs.

Against BENCHMARKS.md:

* W1: exact. flowjax's default affine transformer is ``softplus``-scaled, so a small
  ``TanhAffine`` transformer gives ``log_scale = 3 tanh(raw / 3)`` as in gen_jax; the half
  masks alternate through ``Flip`` (a reversal), as in gen_jax.
* W2: K = 8 bins (``knots=7``: flowjax counts the inner knots) on [-5, 5], identity outside,
  ``Flip`` alternating the two coordinates. One difference: flowjax also learns the derivatives
  at the two interval ends, so its conditioner outputs 3K + 1 = 25 values per coordinate where
  the definition's (and gen_jax's) outputs 3K - 1 = 23 (end derivatives fixed at 1 for the
  linear tails): a final layer 128 -> 25 instead of 128 -> 23, about 1% more matmul work.
* W3: exact layer sizes (``nn_depth=2, nn_width=512``), ``Flip`` (reversal) between layers;
  the same ``TanhAffine`` transformer.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import paramax
from flowjax.bijections import (
    AbstractBijection,
    Chain,
    Coupling,
    Flip,
    Invert,
    MaskedAutoregressive,
    RationalQuadraticSpline,
    Scan,
)
from flowjax.distributions import Normal, Transformed
from flowjax.train.losses import MaximumLikelihoodLoss
from flowjax.train.train_utils import step as flowjax_step

from gen_jax.bench import Workload


class TanhAffine(AbstractBijection):
    """``y = x exp(3 tanh(raw / 3)) + loc`` (gen_jax's soft-clamped affine transformer)."""

    shape: tuple[int, ...] = ()
    cond_shape: ClassVar[None] = None
    loc: jax.Array = eqx.field(default_factory=lambda: jnp.zeros(()))
    raw_log_scale: jax.Array = eqx.field(default_factory=lambda: jnp.zeros(()))

    def _log_scale(self):
        return 3.0 * jnp.tanh(self.raw_log_scale / 3.0)

    def transform_and_log_det(self, x, condition=None):
        s = self._log_scale()
        return x * jnp.exp(s) + self.loc, jnp.sum(s)

    def inverse_and_log_det(self, y, condition=None):
        s = self._log_scale()
        return (y - self.loc) * jnp.exp(-s), -jnp.sum(s)


def _stack(make_layer, key, num_layers: int, dim: int):
    """``flowjax.flows``'s construction: layer + Flip, vmapped over keys, under Scan."""
    def make(k):
        return Chain([make_layer(k), Flip((dim,))]).merge_chains()

    layers = eqx.filter_vmap(make)(jr.split(key, num_layers))
    return Invert(Scan(layers))  # flowjax's default invert=True: one-pass density


def w1_flow(key, num_layers: int = 8) -> Transformed:
    """W1's flow: 8 affine couplings 392 -> 1024 -> 1024 -> 784 on 784-d."""
    bij = _stack(lambda k: Coupling(k, transformer=TanhAffine(), untransformed_dim=392,
                                    dim=784, nn_width=1024, nn_depth=2, nn_activation=jax.nn.relu),
                 key, num_layers, 784)
    return Transformed(Normal(jnp.zeros(784)), bij)


def w2_flow(key) -> Transformed:
    bij = _stack(lambda k: Coupling(k, transformer=RationalQuadraticSpline(knots=7, interval=5),
                                    untransformed_dim=1, dim=2, nn_width=128, nn_depth=2,
                                    nn_activation=jax.nn.relu), key, 8, 2)
    return Transformed(Normal(jnp.zeros(2)), bij)


def w3_flow(key) -> Transformed:
    bij = _stack(lambda k: MaskedAutoregressive(k, transformer=TanhAffine(), dim=8,
                                                nn_width=512, nn_depth=2,
                                                nn_activation=jax.nn.relu), key, 5, 8)
    return Transformed(Normal(jnp.zeros(8)), bij)


def _train_workload(name: str, flow: Transformed, dim: int, batch: int, lr: float,
                    seed: int = 0) -> Workload:
    params, static = eqx.partition(
        flow, eqx.is_inexact_array, is_leaf=lambda leaf: isinstance(leaf, paramax.NonTrainable))
    optimizer = optax.adam(lr)
    opt_state = optimizer.init(params)
    x = jnp.asarray(np.random.default_rng(seed).standard_normal((batch, dim)), jnp.float32)
    loss_fn = MaximumLikelihoodLoss()

    def call(carry):
        p, s = carry
        p, s, _ = flowjax_step(p, static, x, optimizer=optimizer, opt_state=s, loss_fn=loss_fn)
        return p, s

    return Workload(name=name, call=call, carry=(params, opt_state), matmul_flops=0.0,
                    description="flowjax.train.train_utils.step (eqx.filter_jit), "
                                "MaximumLikelihoodLoss, optax.adam")


def w1(seed: int = 0) -> Workload:
    return _train_workload("W1 flowjax", w1_flow(jr.key(seed)), 784, 256, 1e-4, seed)


def w2(seed: int = 0) -> Workload:
    return _train_workload("W2 flowjax", w2_flow(jr.key(seed)), 2, 1024, 1e-3, seed)


def w3(seed: int = 0) -> Workload:
    return _train_workload("W3 flowjax", w3_flow(jr.key(seed)), 8, 512, 1e-3, seed)


def w6_flow(num: int = 1024, seed: int = 0) -> Workload:
    flow = w1_flow(jr.key(seed))
    key = jr.key(seed + 1)
    sample = eqx.filter_jit(lambda f, k: paramax.unwrap(f).sample(k, (num,)))
    return Workload(name="W6 flowjax sample", call=lambda _: sample(flow, key), carry=None,
                    matmul_flops=0.0, items_per_call=num,
                    description=f"eqx.filter_jit(dist.sample) of W1's flow, {num} samples")


WORKLOADS = {"w1": w1, "w2": w2, "w3": w3, "w6-flow": w6_flow}
