"""A small decoder-only Transformer language model of discrete sequences.

The same sequence model as :mod:`gen_jax.models.charrnn` (token sequences from ``<bos>`` to the
first ``<eos>``, or any discrete data's flattened values; exact likelihood), with causal
self-attention in place of the recurrence: pre-LayerNorm blocks of multi-head attention and a
GELU MLP over token plus learned position embeddings. Sampling re-reads the prefix at every
step (sequences of molecules are short: tens of tokens).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ...config import DataConfig
from ...data import DatasetInfo
from ...nn import output_dtype
from .._base import Batch, Metrics, Variables
from .._likelihoods import density_nll_metrics
from .._sequences import SequenceData, sampler

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
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"transformer_lm: top_k must be positive, got {self.top_k}")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"transformer_lm: top_p must lie in (0, 1], got {self.top_p}")


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


class TransformerLM:
    """The Transformer language model bound to a config and a discrete data set.

    Capabilities: :class:`~gen_jax.models.Sampling`,
    :class:`~gen_jax.models.TemperatureSampling` (logits divided by the temperature),
    :class:`~gen_jax.models.ExactLikelihood`, :class:`~gen_jax.models.DataRequirements`.
    """

    def __init__(self, config: TransformerLMConfig, info: DatasetInfo, *,
                 dtype: Dtype = jnp.float32):
        self.seq = SequenceData(info, "transformer_lm")
        self.config, self.info, self.dtype = config, info, dtype
        self.num_classes = 0
        self.net = TransformerLMNet(self.seq.num_inputs, self.seq.levels, self.seq.steps,
                                    config, dtype)

    def _token_log_probs(self, variables: Variables, x: jax.Array, *, train: bool = False,
                         key: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        inputs, targets, mask = self.seq.split(self.seq.ids(x))
        rngs = {"dropout": key} if train else None
        logits = self.net.apply(variables, inputs, train=train, rngs=rngs)
        return self.seq.token_log_probs(logits, targets, mask), mask

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """Initial variables for a batch of this shape."""
        inputs, _, _ = self.seq.split(self.seq.ids(batch["x"]))
        return {"params": self.net.init(key, inputs)["params"]}

    def log_mass(self, variables: Variables, x: jax.Array) -> jax.Array:
        """``log P(x)`` ``[B]``: the exact log-probability of each sequence (nats)."""
        return jnp.sum(self._token_log_probs(variables, x)[0], axis=1)

    def log_prob(self, variables: Variables, x: jax.Array,
                 label: jax.Array | None = None) -> jax.Array:
        """``log P(x) + D log L`` ``[B]`` (the density convention of discrete data here)."""
        del label
        return self.log_mass(variables, x) + self.seq.length * math.log(self.seq.levels)

    def loss(self, variables: Variables, batch: Batch, key: jax.Array, *,
             train: bool = True) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """Mean negative log-likelihood per predicted token (nats), with dropout in training."""
        log_p, mask = self._token_log_probs(variables, batch["x"], train=train, key=key)
        nll = -jnp.sum(log_p, axis=1)
        loss = jnp.sum(nll) / jnp.maximum(jnp.sum(mask), 1)
        return loss, ({"nll": jnp.mean(nll), "nll_per_token": loss}, {})

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per-example ``nll`` (nats), ``bpd`` and ``nll_per_token``."""
        del key
        log_p, mask = self._token_log_probs(variables, batch["x"])
        out = density_nll_metrics(
            jnp.sum(log_p, axis=1) + self.seq.length * math.log(self.seq.levels), self.info)
        out["nll_per_token"] = out["nll"] / jnp.sum(mask, axis=1)
        return out

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """Per-example ``-log P(x)`` (nats)."""
        del key
        return -self.log_mass(variables, batch["x"])

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

    def sample_at_temperature(self, variables: Variables, key: jax.Array, num: int,
                              temperature: float, label: jax.Array | None = None) -> jax.Array:
        """``[num, *shape]`` samples (the data's values ``k / (L - 1)``) from next-token
        distributions with logits divided by ``temperature``."""
        del label
        ids = self.sample_ids(variables, key, num, temperature)
        return self.seq.values(ids, output_dtype(self.dtype), self.info.shape)

    def sample(self, variables: Variables, key: jax.Array, num: int,
               label: jax.Array | None = None) -> jax.Array:
        """:meth:`sample_at_temperature` at temperature 1."""
        return self.sample_at_temperature(variables, key, num, 1.0, label)

    def check_data(self, data: DataConfig) -> None:
        """One-line ``ValueError`` for binarized, dequantized or perturbed token sequences."""
        self.seq.check_data(data)

    def dequantizes(self) -> bool:
        """False: the values reach the model as stored (scaled to ``[0, 1]``)."""
        return False


def build(config: TransformerLMConfig, info: DatasetInfo, *,
          dtype: Dtype = jnp.float32) -> TransformerLM:
    """A :class:`TransformerLM` for ``info``'s discrete data (one-line ``ValueError``
    otherwise)."""
    return TransformerLM(config, info, dtype=dtype)
