"""A small decoder-only Transformer language model of discrete sequences.

The same sequence model as :mod:`gen_jax.models.charrnn` (token sequences from ``<bos>`` to the
first ``<eos>``, or any discrete data's flattened values; exact likelihood), with causal
self-attention in place of the recurrence: pre-LayerNorm blocks of multi-head attention and a
GELU MLP over token plus learned position embeddings. Sampling re-reads the prefix at every
step (sequences of molecules are short: tens of tokens).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ...data import DatasetInfo
from ...nn import output_dtype
from .._base import Variables
from .._language_model import LanguageModel
from .._sequences import check_sampling, sampler

Dtype = Any


@dataclasses.dataclass(frozen=True)
class TransformerLMConfig:
    """The Transformer language model's settings."""

    num_layers: int = 4
    d_model: int = 256
    num_heads: int = 8
    mlp_dim: int = 1024
    dropout: float = 0.1
    """Dropout on the attention weights and the residual branches, in training."""
    top_k: int | None = None
    """Sampling: draw from the k most likely tokens only."""
    top_p: float | None = None
    """Sampling: nucleus sampling with this much probability."""

    def __post_init__(self):
        for name in ("num_layers", "d_model", "num_heads", "mlp_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"transformer_lm: {name} must be positive, got "
                                 f"{getattr(self, name)}")
        if self.d_model % self.num_heads:
            raise ValueError(f"transformer_lm: d_model {self.d_model} must be a multiple of "
                             f"num_heads {self.num_heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"transformer_lm: dropout must lie in [0, 1), got {self.dropout}")
        check_sampling("transformer_lm", self.top_k, self.top_p)


class _Block(nn.Module):
    config: TransformerLMConfig
    dtype: Dtype

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array, train: bool) -> jax.Array:
        c, pd = self.config, output_dtype(self.dtype)
        h = nn.LayerNorm(dtype=self.dtype, param_dtype=pd)(x)
        h = nn.MultiHeadDotProductAttention(
            num_heads=c.num_heads, dtype=self.dtype, param_dtype=pd, dropout_rate=c.dropout,
            deterministic=not train)(h, h, mask=mask)
        x = x + nn.Dropout(c.dropout)(h, deterministic=not train)
        h = nn.LayerNorm(dtype=self.dtype, param_dtype=pd)(x)
        h = nn.Dense(c.mlp_dim, dtype=self.dtype, param_dtype=pd)(h)
        h = nn.Dense(c.d_model, dtype=self.dtype, param_dtype=pd)(nn.gelu(h))
        return x + nn.Dropout(c.dropout)(h, deterministic=not train)


class TransformerLMNet(nn.Module):
    """``[B, T]`` ids -> ``[B, T, vocab]`` next-token logits, each position reading only the
    positions before it and itself."""

    num_inputs: int
    num_outputs: int
    max_length: int
    config: TransformerLMConfig
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, ids: jax.Array, *, train: bool = False) -> jax.Array:
        c, pd = self.config, output_dtype(self.dtype)
        x = nn.Embed(self.num_inputs, c.d_model, dtype=self.dtype, param_dtype=pd)(ids)
        pos = self.param("positions", nn.initializers.normal(0.02), (self.max_length, c.d_model),
                         pd)
        x = x + pos[:ids.shape[1]].astype(x.dtype)
        mask = nn.make_causal_mask(ids)
        for i in range(c.num_layers):
            x = _Block(c, self.dtype, name=f"block_{i}")(x, mask, train)
        x = nn.LayerNorm(dtype=self.dtype, param_dtype=pd)(x)
        return nn.Dense(self.num_outputs, dtype=self.dtype, param_dtype=pd)(x).astype(pd)


class TransformerLM(LanguageModel):
    """The Transformer language model bound to a config and a discrete data set (capabilities:
    those of :class:`~gen_jax.models._language_model.LanguageModel`)."""

    family = "transformer_lm"

    def __init__(self, config: TransformerLMConfig, info: DatasetInfo, *,
                 dtype: Dtype = jnp.float32):
        super().__init__(config, info, dtype=dtype)
        self.net = TransformerLMNet(self.seq.num_inputs, self.seq.levels, self.seq.steps,
                                    config, dtype)

    def logits(self, variables: Variables, inputs: jax.Array, *, train: bool = False,
               key: jax.Array | None = None) -> jax.Array:
        """``[B, T, V]`` next-token logits (dropout in training)."""
        rngs = {"dropout": key} if train else None
        return self.net.apply(variables, inputs, train=train, rngs=rngs)

    def sample_ids(self, variables: Variables, key: jax.Array, num: int,
                   temperature: float = 1.0) -> jax.Array:
        """``[num, D]`` int32 ids drawn token by token, re-reading the prefix at each step."""
        c, steps = self.config, self.seq.steps

        def logits_at(buffer, t):
            logits = self.net.apply(variables, buffer)
            return jax.lax.dynamic_slice_in_dim(logits, t, 1, axis=1)

        def first(ids):
            buffer = jnp.zeros((num, steps), jnp.int32).at[:, 0].set(ids[:, 0])
            return logits_at(buffer, 0), (buffer, jnp.asarray(0))

        def step(ids, state):
            buffer, t = state
            t = t + 1
            buffer = jax.lax.dynamic_update_slice_in_dim(buffer, ids, jnp.minimum(t, steps - 1),
                                                         axis=1)
            return logits_at(buffer, jnp.minimum(t, steps - 1)), (buffer, t)

        return self.seq.generate(first, step, sampler(temperature, c.top_k, c.top_p), key, num)


def build(config: TransformerLMConfig, info: DatasetInfo, *,
          dtype: Dtype = jnp.float32) -> TransformerLM:
    """A :class:`TransformerLM` for ``info``'s discrete data (one-line ``ValueError``
    otherwise)."""
    return TransformerLM(config, info, dtype=dtype)
