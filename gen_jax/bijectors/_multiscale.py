"""The Glow/RealNVP multi-scale architecture as one bijector: flat latent <-> image.

Density direction (``inverse``), for levels ``l = 0 .. L-1``::

    h = x                                       # [H, W, C]
    h = squeeze(h)                              # [H/2, W/2, 4C]      (shapes[0])
    h = levels[0]^{-1}(h)                       # the level's flow steps
    z_0, h = h[..., :2C], h[..., 2C:]           # factor out half the channels
    h = squeeze(h)                              # [H/4, W/4, 8C]      (shapes[1])
    ...                                         # the last level keeps everything: z_{L-1} = h
    z = concat(flatten(z_0), ..., flatten(z_{L-1}))   # [H * W * C]

The factored-out parts need no bookkeeping of their own: they are coordinates of the latent, so a
base distribution over the whole latent (e.g. a standard normal on ``H * W * C`` dims in
``distrax.Transformed``) scores them, and ``log p(x) = log p(z) + log|det dz/dx|`` sums every
level's log-det. A learned prior for a factored-out part (Glow's split prior) is an
:class:`AffineCoupling` with a channel mask appended to the level: it standardizes ``z_l`` given
the kept half.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import distrax
import jax
import jax.numpy as jnp
import numpy as np

from ._squeeze import squeeze, unsqueeze


def multiscale_shapes(event_shape: Sequence[int], num_levels: int) -> list[tuple[int, int, int]]:
    """The ``[H, W, C]`` shape each level's bijector acts on (after that level's squeeze).

    Raises:
      ValueError: ``H`` or ``W`` not divisible by ``2 ** num_levels``.
    """
    height, width, channels = event_shape
    if num_levels < 1 or height % 2**num_levels or width % 2**num_levels:
        raise ValueError(f"{num_levels} levels need H and W divisible by {2**num_levels}, "
                         f"got {height}x{width}")
    shapes = []
    for level in range(num_levels):
        height, width, channels = height // 2, width // 2, channels * 4
        shapes.append((height, width, channels))
        if level < num_levels - 1:
            channels //= 2
    return shapes


class MultiScaleFlow(distrax.Bijector):
    """Maps a flat latent ``[..., H*W*C]`` (forward) to an image ``[..., H, W, C]``.

    ``event_ndims_in = 1``, ``event_ndims_out = 3``: use it as the bijector of
    ``distrax.Transformed`` over a ``H*W*C``-dimensional base, possibly chained with image-space
    bijectors (event_ndims 3) after it. See the module docstring for the layout of the latent.
    """

    def __init__(self, levels: Sequence[distrax.Bijector], event_shape: Sequence[int]):
        """Initializes the flow.

        Args:
          levels: one bijector per scale (e.g. a :class:`Scan` of Glow steps), level ``l`` acting
            on events of shape ``multiscale_shapes(event_shape, len(levels))[l]``; its forward
            maps towards the data, like every layer here.
          event_shape: the image shape ``(H, W, C)``.
        """
        for i, level in enumerate(levels):
            if level.event_ndims_in != 3 or level.event_ndims_out != 3:
                raise ValueError(f"level {i} must act on [H, W, C] events (event_ndims 3)")
        self._levels = list(levels)
        self._event_shape = tuple(event_shape)
        self._shapes = multiscale_shapes(event_shape, len(levels))
        # Latent sizes of z_0 .. z_{L-1}: half of each level's channels, all of the last level's.
        sizes = [math.prod(s) // 2 for s in self._shapes[:-1]] + [math.prod(self._shapes[-1])]
        self._sizes = sizes
        super().__init__(event_ndims_in=1, event_ndims_out=3)

    @property
    def levels(self) -> list[distrax.Bijector]:
        return self._levels

    @property
    def shapes(self) -> list[tuple[int, int, int]]:
        """The ``[H, W, C]`` shape each level acts on."""
        return self._shapes

    def forward_and_log_det(self, z: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Latent ``[..., D] -> `` image ``[..., H, W, C]`` and ``log|det dx/dz|``."""
        self._check_forward_input_shape(z)
        if z.shape[-1] != sum(self._sizes):
            raise ValueError(f"{self.name} expects latents of size {sum(self._sizes)}, "
                             f"got shape {z.shape}")
        batch = z.shape[:-1]
        pieces = jnp.split(z, np.cumsum(self._sizes)[:-1].tolist(), axis=-1)
        log_det = jnp.zeros(batch, z.dtype)
        h = None
        for level in reversed(range(len(self._levels))):
            height, width, channels = self._shapes[level]
            if h is None:  # the last level: its whole input is latent
                h = pieces[level].reshape(*batch, height, width, channels)
            else:  # z_l beside what the coarser levels produced, as factored out
                z_l = pieces[level].reshape(*batch, height, width, channels // 2)
                h = jnp.concatenate([z_l, h], axis=-1)
            h, ld = self._levels[level].forward_and_log_det(h)
            log_det = log_det + ld
            h = unsqueeze(h)
        return h, log_det

    def inverse_and_log_det(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Image ``[..., H, W, C] -> `` latent ``[..., D]`` and ``log|det dz/dx|``."""
        self._check_inverse_input_shape(x)
        if x.shape[-3:] != self._event_shape:
            raise ValueError(f"{self.name} expects images of shape {self._event_shape}, "
                             f"got {x.shape}")
        batch = x.shape[:-3]
        log_det = jnp.zeros(batch, x.dtype)
        latents, h = [], x
        for level, bijector in enumerate(self._levels):
            h, ld = bijector.inverse_and_log_det(squeeze(h))
            log_det = log_det + ld
            if level < len(self._levels) - 1:
                half = h.shape[-1] // 2
                latents.append(h[..., :half].reshape(*batch, -1))
                h = h[..., half:]
            else:
                latents.append(h.reshape(*batch, -1))
        return jnp.concatenate(latents, axis=-1), log_det
