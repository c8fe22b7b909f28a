"""The dtype a network hands to losses and samplers, given its compute dtype."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def output_dtype(compute_dtype: Any) -> jnp.dtype:
    """float32 for float32 and narrower compute (bfloat16, float16), else the compute dtype.

    Mixed precision computes the network in 16 bits and the loss in float32; a float64 model
    (``jax_enable_x64``, e.g. for finite-difference checks) keeps float64 end to end.
    """
    return jnp.promote_types(compute_dtype, jnp.float32)


def params_in(variables: Any, compute_dtype: Any) -> Any:
    """``variables`` with every floating leaf in the parameter dtype of ``compute_dtype``.

    Parameters stay float32 under float32 and narrower compute (``variables`` is returned as it
    is); a float64 model gets float64 variables, so that ``init`` honours the dtype it was
    built with (flax creates float32 parameters whatever the compute dtype).
    """
    dtype = output_dtype(compute_dtype)
    if dtype == jnp.float32:
        return variables
    return jax.tree.map(
        lambda v: v.astype(dtype) if jnp.issubdtype(v.dtype, jnp.floating) else v, variables)
