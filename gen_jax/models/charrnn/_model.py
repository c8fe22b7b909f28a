"""An autoregressive recurrent language model of discrete sequences (MOSES's CharRNN).

Token sequences (a data set with a ``vocabulary``: molecules as SMILES or SELFIES) are modelled
as ``p(x) = prod_t p(x_t | x_<t)`` from the ``<bos>`` token to the first ``<eos>``, which is
predicted too; the padding after it is not modelled (it is determined). ``<pad>`` and ``<bos>``
are never predicted and ``<eos>`` is certain at the last position, so the probabilities of the
sequences the data can hold (up to ``max_length`` tokens) sum to one. Any other discrete data
(e.g. images with L levels) is modelled the same way over its flattened values, with a start
token of its own, as a PixelRNN-style sequence of ``D`` values.

The likelihood is exact. ``log_prob`` follows the toolkit's convention for discrete data (a
density of uniformly dequantized values on the ``[0, 1)`` scale: ``log P(x) + D log L``), so
``nll`` in :meth:`CharRNN.evaluate` and the anomaly score are ``-log P(x)`` in nats, as for
the flows.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

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
class CharRNNConfig:
    """CharRNN's settings (defaults: MOSES's CharRNN, a 3-layer LSTM of 768 units with dropout
    0.2 between layers, on one-hot tokens)."""

    cell: Literal["lstm", "gru"] = "lstm"
    """The recurrent cell."""
    hidden: int = 768
    """Units per layer."""
    num_layers: int = 3
    """Stacked recurrent layers."""
    dropout: float = 0.2
    """Dropout between recurrent layers, in training."""
    embed_dim: int | None = None
    """Token embedding size; None: one-hot tokens (MOSES)."""
    top_k: int | None = None
    """Sampling: draw from the k most likely tokens only (None: all)."""
    top_p: float | None = None
    """Sampling: draw from the smallest set of tokens holding this much probability (nucleus
    sampling; None: all)."""

    def __post_init__(self):
        if self.cell not in ("lstm", "gru"):
            raise ValueError(f"charrnn: cell must be lstm or gru, got {self.cell!r}")
        for name in ("hidden", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"charrnn: {name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"charrnn: dropout must lie in [0, 1), got {self.dropout}")
        if self.embed_dim is not None and self.embed_dim < 1:
            raise ValueError(f"charrnn: embed_dim must be positive, got {self.embed_dim}")
        check_sampling("charrnn", self.top_k, self.top_p)


class CharRNNNet(nn.Module):
    """Stacked LSTM/GRU over token ids: ``[B, T]`` ids -> ``[B, T, vocab]`` next-token logits.

    ``carries``: the layers' states to continue from (None: zeros); the new ones are returned,
    so sampling runs one step at a time with the same parameters.
    """

    num_inputs: int
    num_outputs: int
    config: CharRNNConfig
    dtype: Dtype = jnp.float32

    def setup(self):
        c, param_dtype = self.config, output_dtype(self.dtype)
        cell = nn.OptimizedLSTMCell if c.cell == "lstm" else nn.GRUCell
        self.rnns = [nn.RNN(cell(c.hidden, dtype=self.dtype, param_dtype=param_dtype),
                            return_carry=True, name=f"rnn_{i}") for i in range(c.num_layers)]
        self.embed = (nn.Embed(self.num_inputs, c.embed_dim, dtype=self.dtype,
                               param_dtype=param_dtype) if c.embed_dim else None)
        self.head = nn.Dense(self.num_outputs, dtype=self.dtype, param_dtype=param_dtype)
        self.drop = nn.Dropout(c.dropout)

    def __call__(self, ids: jax.Array, carries: tuple | None = None, *,
                 train: bool = False) -> tuple[jax.Array, tuple]:
        x = (self.embed(ids) if self.embed is not None
             else jax.nn.one_hot(ids, self.num_inputs, dtype=self.dtype))
        new = []
        for i, rnn in enumerate(self.rnns):
            carry, x = rnn(x, initial_carry=None if carries is None else carries[i])
            new.append(carry)
            if i + 1 < len(self.rnns):
                x = self.drop(x, deterministic=not train)
        return self.head(x).astype(output_dtype(self.dtype)), tuple(new)


class CharRNN(LanguageModel):
    """The CharRNN family bound to a config and a discrete data set (capabilities: those of
    :class:`~gen_jax.models._language_model.LanguageModel`)."""

    family = "charrnn"

    def __init__(self, config: CharRNNConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32):
        super().__init__(config, info, dtype=dtype)
        self.net = CharRNNNet(self.seq.num_inputs, self.seq.levels, config, dtype)

    def logits(self, variables: Variables, inputs: jax.Array, *, train: bool = False,
               key: jax.Array | None = None) -> jax.Array:
        """``[B, T, V]`` next-token logits (dropout between layers in training)."""
        rngs = {"dropout": key} if train else None
        return self.net.apply(variables, inputs, train=train, rngs=rngs)[0]

    def sample_ids(self, variables: Variables, key: jax.Array, num: int,
                   temperature: float = 1.0) -> jax.Array:
        """``[num, D]`` int32 ids drawn token by token, the LSTM/GRU state carried along."""
        c = self.config

        def step(ids, carries):
            return self.net.apply(variables, ids, carries)

        return self.seq.generate(lambda ids: step(ids, None), step,
                                 sampler(temperature, c.top_k, c.top_p), key, num)


def build(config: CharRNNConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32) -> CharRNN:
    """A :class:`CharRNN` for ``info``'s discrete data (one-line ``ValueError`` otherwise)."""
    return CharRNN(config, info, dtype=dtype)
