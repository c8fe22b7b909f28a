"""Classical image augmentation, on device: random shifts (what pad-and-crop does) and a small
random affine map, the baseline every generated-data gain is measured against."""

from __future__ import annotations

import dataclasses
import math

import chex
import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class ClassicalAugment:
    """A random affine map per image: rotation, isotropic scale and shift, drawn uniformly
    (MNIST-style ranges by default).

    Attributes:
      max_shift: largest shift along each axis as a fraction of the image's side (0.07: 2
        pixels of a 28x28 image, MNIST's usual pad-2-and-crop, here at sub-pixel resolution).
      max_rotation: largest rotation in degrees, either way.
      max_scale: largest relative change of size (0.1: a scale in [0.9, 1.1]).

    Pixels that come from outside the image are 0 (black, the background of MNIST-like data),
    the others are interpolated bilinearly.
    """

    max_shift: float = 0.07
    max_rotation: float = 10.0
    max_scale: float = 0.1

    def __post_init__(self):
        if min(self.max_shift, self.max_rotation, self.max_scale) < 0 or self.max_scale >= 1:
            raise ValueError(f"augmentation ranges must be >= 0 (and max_scale < 1), got shift "
                             f"{self.max_shift}, rotation {self.max_rotation}, scale "
                             f"{self.max_scale}")

    def __call__(self, key: jax.Array, x: jax.Array) -> jax.Array:
        """``[B, H, W, C]`` float images -> the same images, each under its own random map."""
        chex.assert_rank(x, 4)
        k_rot, k_scale, k_shift = jax.random.split(key, 3)
        b = x.shape[0]
        angle = jax.random.uniform(k_rot, (b,), minval=-1.0, maxval=1.0) * math.radians(
            self.max_rotation)
        scale = 1.0 + jax.random.uniform(k_scale, (b,), minval=-1.0,
                                         maxval=1.0) * self.max_scale
        side = jnp.array(x.shape[1:3], jnp.float32)
        shift = jax.random.uniform(k_shift, (b, 2), minval=-1.0, maxval=1.0) * (
            self.max_shift * side)
        return jax.vmap(affine)(x, angle, scale, shift)


def affine(image: jax.Array, angle: jax.Array, scale: jax.Array,
           shift: jax.Array) -> jax.Array:
    """One ``[H, W, C]`` image rotated by ``angle`` (radians) and scaled by ``scale`` about its
    centre, then shifted by ``shift`` (rows, columns) pixels; bilinear, zeros outside."""
    h, w = image.shape[:2]
    centre = jnp.array([(h - 1) / 2.0, (w - 1) / 2.0])
    rows, cols = jnp.meshgrid(jnp.arange(h, dtype=image.dtype), jnp.arange(w, dtype=image.dtype),
                              indexing="ij")
    out = jnp.stack([rows, cols]) - (centre + shift)[:, None, None]  # output coordinates
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    inverse = jnp.array([[cos, sin], [-sin, cos]]) / scale  # output -> input
    src = jnp.einsum("ij,jhw->ihw", inverse, out) + centre[:, None, None]
    channel = lambda c: jax.scipy.ndimage.map_coordinates(  # noqa: E731
        image[..., c], [src[0], src[1]], order=1, mode="constant", cval=0.0)
    return jnp.stack([channel(c) for c in range(image.shape[-1])], axis=-1)
