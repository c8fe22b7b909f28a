"""The dtype a network hands to losses and samplers, given its compute dtype."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp


def output_dtype(compute_dtype: Any) -> jnp.dtype:
    """float32 for float32 and narrower compute (bfloat16, float16), else the compute dtype.

    Mixed precision computes the network in 16 bits and the loss in float32; a float64 model
    (``jax_enable_x64``, e.g. for finite-difference checks) keeps float64 end to end.
    """
    return jnp.promote_types(compute_dtype, jnp.float32)
