"""What every autoregressive language model family shares (CharRNN, the Transformer LM): the
exact likelihood over :class:`~gen_jax.models._sequences.SequenceData`, its loss, evaluation,
anomaly score and sampling; a family adds its network's next-token logits and its own
step-by-step generation."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from ..config import DataConfig
from ..data import DatasetInfo
from ..nn import output_dtype
from ._base import Batch, Metrics, Variables
from ._likelihoods import density_nll_metrics
from ._sequences import SequenceData


class LanguageModel:
    """An autoregressive model of discrete sequences bound to a config and a data set.

    Subclasses set ``net`` and implement :meth:`logits` and :meth:`sample_ids`.

    Capabilities: :class:`~gen_jax.models.Sampling`,
    :class:`~gen_jax.models.TemperatureSampling` (next-token logits divided by the
    temperature), :class:`~gen_jax.models.ExactLikelihood` and
    :class:`~gen_jax.models.DataRequirements` (the values reach it as stored, never binarized
    or dequantized).
    """

    family = ""

    def __init__(self, config: Any, info: DatasetInfo, *, dtype: Any = jnp.float32):
        self.seq = SequenceData(info, self.family)
        self.config, self.info, self.dtype = config, info, dtype
        self.num_classes = 0

    def logits(self, variables: Variables, inputs: jax.Array, *, train: bool = False,
               key: jax.Array | None = None) -> jax.Array:
        """``[B, T, V]`` next-token logits after each of ``inputs`` ``[B, T]``."""
        raise NotImplementedError

    def sample_ids(self, variables: Variables, key: jax.Array, num: int,
                   temperature: float = 1.0) -> jax.Array:
        """``[num, D]`` int32 ids drawn token by token (token sequences: ``<bos>`` first,
        ``<pad>`` after the first ``<eos>``), with ``temperature`` and the config's top-k and
        nucleus filters."""
        raise NotImplementedError

    def _token_log_probs(self, variables: Variables, x: jax.Array, *, train: bool = False,
                         key: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        inputs, targets, mask = self.seq.split(self.seq.ids(x))
        logits = self.logits(variables, inputs, train=train, key=key)
        return self.seq.token_log_probs(logits, targets, mask), mask

    # ----- the core contract ---------------------------------------------------------------

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """Initial variables for a batch of this shape."""
        inputs, _, _ = self.seq.split(self.seq.ids(batch["x"]))
        return {"params": self.net.init(key, inputs)["params"]}

    def log_mass(self, variables: Variables, x: jax.Array) -> jax.Array:
        """``log P(x)`` ``[B]``: the exact log-probability of each sequence (nats)."""
        return jnp.sum(self._token_log_probs(variables, x)[0], axis=1)

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
