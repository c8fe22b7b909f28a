"""GAN objectives and discriminator regularizers, as pure functions of discriminator outputs.

Every loss takes logits (the discriminator's raw scores, ``[N]``) and returns a scalar mean:

=================  ===========================================  ====================
loss               discriminator minimizes                      generator minimizes
=================  ===========================================  ====================
non_saturating     ``softplus(-D(x)) + softplus(D(G(z)))``      ``softplus(-D(G(z)))``
hinge              ``relu(1 - D(x)) + relu(1 + D(G(z)))``       ``-D(G(z))``
wasserstein        ``D(G(z)) - D(x)``                           ``-D(G(z))``
=================  ===========================================  ====================

(``softplus(-l) = -log sigmoid(l)``: the non-saturating pair is Goodfellow et al.'s cross-entropy
with the generator's ``-log D(G(z))`` trick; hinge is Lim & Ye 2017 / Miyato et al. 2018;
wasserstein is Arjovsky et al. 2017, to be used with a gradient penalty or spectral norm.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import chex
import jax
import jax.numpy as jnp

LossName = Literal["non_saturating", "hinge", "wasserstein"]
LOSSES: tuple[str, ...] = ("non_saturating", "hinge", "wasserstein")

Critic = Callable[[jax.Array], jax.Array]
"""``x`` ``[N, ...] -> [N]`` logits, each depending only on its own row (no batch coupling)."""


def discriminator_loss(name: LossName, d_real: jax.Array, d_fake: jax.Array) -> jax.Array:
    """The discriminator's loss (a scalar) from logits on real ``[N]`` and fake ``[M]`` data."""
    chex.assert_rank([d_real, d_fake], 1)
    if name == "non_saturating":
        return jnp.mean(jax.nn.softplus(-d_real)) + jnp.mean(jax.nn.softplus(d_fake))
    if name == "hinge":
        return jnp.mean(jax.nn.relu(1.0 - d_real)) + jnp.mean(jax.nn.relu(1.0 + d_fake))
    if name == "wasserstein":
        return jnp.mean(d_fake) - jnp.mean(d_real)
    raise ValueError(f"unknown GAN loss {name!r}; use one of {', '.join(LOSSES)}")


def generator_loss(name: LossName, d_fake: jax.Array) -> jax.Array:
    """The generator's loss (a scalar) from the discriminator's logits on fakes ``[M]``."""
    chex.assert_rank(d_fake, 1)
    if name == "non_saturating":
        return jnp.mean(jax.nn.softplus(-d_fake))
    if name in ("hinge", "wasserstein"):
        return -jnp.mean(d_fake)
    raise ValueError(f"unknown GAN loss {name!r}; use one of {', '.join(LOSSES)}")


def _input_grad_norms(critic: Critic, x: jax.Array) -> jax.Array:
    """``||d critic(x)_i / d x_i||_2`` per row: ``[N]``."""
    grads = jax.grad(lambda v: jnp.sum(critic(v)))(x)  # rows are independent
    return jnp.sqrt(jnp.sum(grads.reshape(x.shape[0], -1) ** 2, axis=-1) + 1e-12)


def gradient_penalty(
    critic: Critic, x_real: jax.Array, x_fake: jax.Array, key: jax.Array
) -> jax.Array:
    """WGAN-GP's penalty ``E[(||grad_x D(x_hat)||_2 - 1)^2]`` (Gulrajani et al. 2017).

    ``x_hat = e * x_real + (1 - e) * x_fake`` with one ``e ~ U[0, 1]`` per row.

    Args:
      critic: the discriminator as a function of its input (see :data:`Critic`).
      x_real: ``[N, ...]`` real (packed) inputs.
      x_fake: ``[N, ...]`` fake inputs of the same shape.
      key: PRNG key for the interpolation weights.

    Returns:
      The penalty, a scalar (multiply by its weight, 10 in the paper).
    """
    chex.assert_equal_shape([x_real, x_fake])
    eps = jax.random.uniform(key, (x_real.shape[0],) + (1,) * (x_real.ndim - 1),
                             jnp.result_type(x_real, x_fake))
    x_hat = eps * x_real + (1.0 - eps) * jax.lax.stop_gradient(x_fake)
    return jnp.mean((_input_grad_norms(critic, x_hat) - 1.0) ** 2)


def r1_penalty(critic: Critic, x_real: jax.Array) -> jax.Array:
    """R1's ``E[||grad_x D(x)||_2^2]`` on real data (Mescheder et al. 2018).

    Returns:
      The mean squared gradient norm, a scalar; the regularizer is ``gamma / 2`` times it.
    """
    grads = jax.grad(lambda v: jnp.sum(critic(v)))(x_real)
    return jnp.mean(jnp.sum(grads.reshape(x_real.shape[0], -1) ** 2, axis=-1))
