"""The objectives of pix2pix and CycleGAN, and CycleGAN's history of generated images.

PatchGAN discriminators give one logit per patch, ``[B, h, w]``; each loss is the mean over
patches and examples:

================  =============================================  ============================
``gan_loss``      discriminator minimizes                        generator minimizes
================  =============================================  ============================
non_saturating    ``(softplus(-D(real)) + softplus(D(fake))) / 2``  ``softplus(-D(fake))``
lsgan             ``((D(real) - 1)^2 + D(fake)^2) / 2``          ``(D(fake) - 1)^2``
================  =============================================  ============================

(the halving of the discriminator's loss is both papers' "slows down the rate at which D
learns relative to G"; ``softplus(-l) = -log sigmoid(l)``, pix2pix's cross-entropy, and
least squares is Mao et al. 2017's, CycleGAN's choice). The reconstruction terms (pix2pix's
L1 to the target, CycleGAN's cycle and identity losses) are mean absolute differences on the
``[-1, 1]`` scale the papers' weights (100, 10, 0.5) were set for.
"""

from __future__ import annotations

from typing import Any, Literal

import jax
import jax.numpy as jnp

GanLoss = Literal["non_saturating", "lsgan"]
GAN_LOSSES: tuple[str, ...] = ("non_saturating", "lsgan")


def patch_discriminator_loss(name: GanLoss, real: jax.Array, fake: jax.Array) -> jax.Array:
    """The discriminator's loss (a scalar) from its patch logits on real and fake images."""
    if name == "non_saturating":
        return 0.5 * (jnp.mean(jax.nn.softplus(-real)) + jnp.mean(jax.nn.softplus(fake)))
    if name == "lsgan":
        return 0.5 * (jnp.mean((real - 1.0) ** 2) + jnp.mean(fake**2))
    raise ValueError(f"unknown gan_loss {name!r}; use one of {', '.join(GAN_LOSSES)}")


def patch_generator_loss(name: GanLoss, fake: jax.Array) -> jax.Array:
    """The generator's adversarial loss (a scalar) from the patch logits on its images."""
    if name == "non_saturating":
        return jnp.mean(jax.nn.softplus(-fake))
    if name == "lsgan":
        return jnp.mean((fake - 1.0) ** 2)
    raise ValueError(f"unknown gan_loss {name!r}; use one of {', '.join(GAN_LOSSES)}")


def mean_abs(a: jax.Array, b: jax.Array) -> jax.Array:
    """``mean |a - b|`` over every element (a scalar)."""
    return jnp.mean(jnp.abs(a - b))


def per_example_abs(a: jax.Array, b: jax.Array) -> jax.Array:
    """``mean |a - b|`` of each example: ``[B]``."""
    return jnp.mean(jnp.abs(a - b).reshape(a.shape[0], -1), axis=-1)


def cycle_loss(x: jax.Array, x_back: jax.Array, y: jax.Array, y_back: jax.Array) -> jax.Array:
    """CycleGAN's cycle-consistency loss ``|F(G(x)) - x|_1 + |G(F(y)) - y|_1`` (means), from
    the images and their round trips."""
    return mean_abs(x_back, x) + mean_abs(y_back, y)


def history_init(size: int, shape: tuple[int, ...], dtype: Any = jnp.float32
                 ) -> dict[str, jax.Array]:
    """An empty history of ``size`` images of ``shape`` (Shrivastava et al. 2017's buffer)."""
    return {"images": jnp.zeros((size, *shape), dtype), "count": jnp.zeros((), jnp.int32)}


def history_query(history: dict[str, jax.Array], images: jax.Array, key: jax.Array
                  ) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The images the discriminator sees in place of ``images`` ``[B, ...]``, and the new
    history (CycleGAN's ``ImagePool``): while the history is not full, each image is stored and
    passed on; after, each image is passed on with probability 1/2, and otherwise a uniformly
    chosen stored image is passed on and replaced by it. Images are taken in row order."""
    size = history["images"].shape[0]
    if size == 0:
        return images, history

    def one(carry, item):
        buf, count = carry
        image, k = item
        k_swap, k_index = jax.random.split(k)
        full = count >= size
        swap = full & jax.random.bernoulli(k_swap, 0.5)
        index = jnp.where(full, jax.random.randint(k_index, (), 0, size), count)
        out = jnp.where(swap, buf[index], image)
        buf = buf.at[index].set(jnp.where(full & ~swap, buf[index], image))
        return (buf, jnp.minimum(count + 1, size)), out

    keys = jax.random.split(key, images.shape[0])
    (buf, count), out = jax.lax.scan(
        one, (history["images"], history["count"]), (images.astype(history["images"].dtype),
                                                     keys))
    return out.astype(images.dtype), {"images": buf, "count": count}
