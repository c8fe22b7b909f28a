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
import math
from typing import Any, Literal

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
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"charrnn: top_k must be positive, got {self.top_k}")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"charrnn: top_p must lie in (0, 1], got {self.top_p}")


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


class CharRNN:
    """The CharRNN family bound to a config and a discrete data set.

    Capabilities: :class:`~gen_jax.models.Sampling`,
    :class:`~gen_jax.models.TemperatureSampling`, :class:`~gen_jax.models.ExactLikelihood`,
    :class:`~gen_jax.models.DataRequirements` (the values reach it as they are stored, never
    binarized or dequantized).
    """

    def __init__(self, config: CharRNNConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32):
        self.seq = SequenceData(info, "charrnn")
        self.config, self.info, self.dtype = config, info, dtype
        self.num_classes = 0
        self.net = CharRNNNet(self.seq.num_inputs, self.seq.levels, config, dtype)

    def _token_log_probs(self, variables: Variables, x: jax.Array, *, train: bool = False,
                         key: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        inputs, targets, mask = self.seq.split(self.seq.ids(x))
        rngs = {"dropout": key} if train else None
        logits, _ = self.net.apply(variables, inputs, train=train, rngs=rngs)
        return self.seq.token_log_probs(logits, targets, mask), mask

    # ----- the core contract ---------------------------------------------------------------

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """Initial variables for a batch of this shape."""
        inputs, _, _ = self.seq.split(self.seq.ids(batch["x"]))
        return {"params": self.net.init(key, inputs)["params"]}

    def log_mass(self, variables: Variables, x: jax.Array) -> jax.Array:
        """``log P(x)`` ``[B]``: the exact log-probability of each sequence (nats)."""
        log_p, _ = self._token_log_probs(variables, x)
        return jnp.sum(log_p, axis=1)

    def log_prob(self, variables: Variables, x: jax.Array,
                 label: jax.Array | None = None) -> jax.Array:
        """``log P(x) + D log L`` ``[B]``: the density of the uniformly dequantized values on the
        ``[0, 1)`` scale (the convention of every exact likelihood here on discrete data)."""
        del label
        return self.log_mass(variables, x) + self.seq.length * math.log(self.seq.levels)

    def loss(self, variables: Variables, batch: Batch, key: jax.Array, *,
             train: bool = True) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """Mean negative log-likelihood per predicted token (nats), with dropout in training."""
        log_p, mask = self._token_log_probs(variables, batch["x"], train=train, key=key)
        tokens = jnp.sum(mask, axis=1)
        nll = -jnp.sum(log_p, axis=1)  # [B]
        loss = jnp.sum(nll) / jnp.maximum(jnp.sum(tokens), 1)
        return loss, ({"nll": jnp.mean(nll), "nll_per_token": loss,
                       "tokens": jnp.mean(tokens.astype(jnp.float32))}, {})

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

    # ----- capabilities ----------------------------------------------------------------------

    def sample_ids(self, variables: Variables, key: jax.Array, num: int,
                   temperature: float = 1.0) -> jax.Array:
        """``[num, D]`` int32 ids drawn token by token (for token sequences: ``<bos>`` first,
        ``<pad>`` after the first ``<eos>``), with ``temperature`` and the config's top-k and
        nucleus filters."""
        c = self.config

        def step(ids, carries):
            return self.net.apply(variables, ids, carries)

        return self.seq.generate(lambda ids: step(ids, None), step,
                                 sampler(temperature, c.top_k, c.top_p), key, num)

    def sample(self, variables: Variables, key: jax.Array, num: int,
               label: jax.Array | None = None) -> jax.Array:
        """``[num, *shape]`` samples as the data's values ``k / (L - 1)`` (token sequences:
        ids scaled the same way; decode them with the data set's vocabulary)."""
        return self.sample_at_temperature(variables, key, num, 1.0, label)

    def sample_at_temperature(self, variables: Variables, key: jax.Array, num: int,
                              temperature: float, label: jax.Array | None = None) -> jax.Array:
        """:meth:`sample` from next-token distributions with logits divided by
        ``temperature``."""
        del label
        ids = self.sample_ids(variables, key, num, temperature)
        return self.seq.values(ids, output_dtype(self.dtype), self.info.shape)

    def check_data(self, data: DataConfig) -> None:
        """One-line ``ValueError`` for binarized, dequantized or perturbed token sequences."""
        self.seq.check_data(data)

    def dequantizes(self) -> bool:
        """False: the values reach the model as stored (scaled to ``[0, 1]``)."""
        return False


def build(config: CharRNNConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32) -> CharRNN:
    """A :class:`CharRNN` for ``info``'s discrete data (one-line ``ValueError`` otherwise)."""
    return CharRNN(config, info, dtype=dtype)
