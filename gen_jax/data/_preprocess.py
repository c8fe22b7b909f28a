"""On-device preprocessing in pure JAX: scaling, dynamic binarization, uniform dequantization,
random perturbation."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._types import DatasetInfo


def preprocess(
    x: jax.Array,
    key: jax.Array | None,
    info: DatasetInfo,
    *,
    binarize: bool = False,
    dequantize: bool = False,
    perturb: float = 0.0,
) -> jax.Array:
    """Turns a stored batch into model inputs; pure, so it can run inside the jitted step.

    Discrete data (``info.num_levels`` set) with integer values ``k`` in ``[0, L)``:

    * default: ``k / (L - 1)``, in ``[0, 1]``;
    * ``binarize=True``: dynamic binarization, a fresh Bernoulli draw with ``p = k / (L - 1)``
      (values in ``{0, 1}``; a new ``key`` gives a new draw);
    * ``dequantize=True``: uniform dequantization ``(k + u) / L`` with ``u ~ U[0, 1)``, in
      ``[0, 1)``, nudged by an ulp where float32 rounding would break ``floor(L * y) == k``.

    Continuous data (``num_levels`` None) is returned unchanged, cast to float32.

    Args:
      x: ``[..., *info.shape]`` batch as stored (uint8 for discrete data).
      key: PRNG key; required by ``binarize`` and ``dequantize``, unused otherwise (may be None).
      info: the dataset's :class:`DatasetInfo`.
      binarize: draw binary data with the scaled intensities as probabilities.
      dequantize: add uniform noise to the integer values.
      perturb: replace each value by a uniformly random level with this probability, before the
        rest (Ren et al. 2019's training of a background model; discrete data only).

    Returns:
      float32 array of ``x``'s shape.

    Raises:
      ValueError: both ``binarize`` and ``dequantize``; either on continuous data; no key for them.
    """
    if binarize and dequantize:
        raise ValueError(
            "binarize and dequantize are mutually exclusive: binarization makes the data binary, "
            "dequantization makes it continuous; pass at most one"
        )
    if not 0.0 <= perturb < 1.0:
        raise ValueError(f"perturb is a probability in [0, 1), got {perturb}")
    if not info.is_discrete:
        if binarize or dequantize or perturb:
            raise ValueError(
                f"binarize/dequantize/perturb need discrete data, but {info.name!r} is "
                "continuous: "
                "drop them"
            )
        return jnp.asarray(x, jnp.float32)
    if (binarize or dequantize or perturb) and key is None:
        raise ValueError("binarize/dequantize/perturb draw random numbers: pass a PRNG key")
    levels = info.num_levels
    k = jnp.asarray(x).astype(jnp.float32)
    if perturb:
        key, key_where, key_level = jax.random.split(key, 3)
        swap = jax.random.bernoulli(key_where, perturb, k.shape)
        noise = jax.random.randint(key_level, k.shape, 0, levels).astype(jnp.float32)
        k = jnp.where(swap, noise, k)
    if dequantize:
        return dequantize_with_noise(k, jax.random.uniform(key, k.shape, jnp.float32), levels)
    p = k / (levels - 1)
    if binarize:
        return jax.random.bernoulli(key, p).astype(jnp.float32)
    return p


def dequantize_with_noise(k: jax.Array, u: jax.Array, levels: int) -> jax.Array:
    """``(k + u) / levels`` in float32 with ``floor(y * levels) == k`` (float32) and ``y < 1``."""
    # k + u rounds up to k + 1 when u is within an ulp of 1: keep it below.
    v = jnp.minimum(k + u, jnp.nextafter(k + 1.0, k))
    y = v / levels
    # Rounding of the division (and of y * levels) can still cross a level boundary by an ulp,
    # when levels is not a power of two; one nudge fixes it, the second is a margin.
    for _ in range(2):
        y = jnp.where(jnp.floor(y * levels) > k, jnp.nextafter(y, 0.0), y)
        y = jnp.where(jnp.floor(y * levels) < k, jnp.nextafter(y, 1.0), y)
    return y
