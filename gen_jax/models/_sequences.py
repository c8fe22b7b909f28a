"""Discrete data as token sequences, for the autoregressive families (CharRNN, the sequence VAE).

A data set with a ``vocabulary`` (molecules) holds ``<bos>``, tokens, ``<eos>``, then ``<pad>``
(ids 0 ``<pad>``, 1 ``<bos>``, 2 ``<eos>``): the model predicts every token after ``<bos>`` up
to and including the first ``<eos>``, never ``<pad>`` or ``<bos>``, and only ``<eos>`` at the last
position, so the probabilities of the sequences the data can hold sum to one. Any other discrete
data is the sequence of its flattened values, read after a start id of its own (``levels``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ..config import DataConfig
from ..data import DatasetInfo

PAD, BOS, EOS = 0, 1, 2


class SequenceData:
    """How a discrete data set reads as sequences of ids.

    Attributes:
      levels: ids per position (the vocabulary's size, or the data's levels).
      length: values per example (``<bos>`` included for token sequences).
      is_text: whether the data are token sequences (a vocabulary with ``<bos>``/``<eos>``).
      num_inputs: input ids the network embeds (``levels``, plus the start id for other data).
    """

    def __init__(self, info: DatasetInfo, family: str):
        self.family = family
        if not info.is_discrete:
            raise ValueError(f"{family} models discrete data (token sequences, or images with a "
                             f"number of levels); {info.name!r} is continuous")
        self.levels, self.length = int(info.num_levels), info.dim
        self.is_text = info.vocabulary is not None
        if self.is_text and (len(info.shape) != 1 or info.shape[0] < 2):
            raise ValueError(f"{family}: token sequences are [T] ids with T >= 2, got shape "
                             f"{info.shape}")
        self.num_inputs = self.levels if self.is_text else self.levels + 1
        self.start = BOS if self.is_text else self.levels
        self.steps = self.length - 1 if self.is_text else self.length  # predicted positions

    def check_data(self, data: DataConfig) -> None:
        """One-line ``ValueError`` for binarized or dequantized data, and for perturbed token
        sequences (a family's ``DataRequirements.check_data``)."""
        if data.binarize or data.dequantize:
            raise ValueError(f"{self.family} models the stored discrete values: drop "
                             "data.binarize and data.dequantize")
        if self.is_text and data.perturb:
            raise ValueError(f"{self.family}: data.perturb would break the token sequences' "
                             "<eos> structure; drop it")

    def ids(self, x: jax.Array) -> jax.Array:
        """``[B, D]`` int32 ids of a model-space batch (values ``k / (L - 1)``)."""
        flat = x.reshape(x.shape[0], -1).astype(jnp.float32)
        return jnp.round(flat * (self.levels - 1)).astype(jnp.int32)

    def values(self, ids: jax.Array, dtype: Any, shape: tuple[int, ...]) -> jax.Array:
        """Ids back to model space ``[B, *shape]`` (``k / (L - 1)``)."""
        return (ids.astype(dtype) / (self.levels - 1)).reshape(ids.shape[0], *shape)

    def split(self, ids: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(inputs, targets, mask)``, each ``[B, steps]``: the ids read before each prediction,
        the predicted ids, and which predictions count."""
        if self.is_text:
            inputs, targets = ids[:, :-1], ids[:, 1:]
            ended_before = jnp.cumsum(targets == EOS, axis=1) - (targets == EOS)
            return inputs, targets, ended_before == 0
        start = jnp.full((ids.shape[0], 1), self.start, jnp.int32)
        return jnp.concatenate([start, ids[:, :-1]], axis=1), ids, jnp.ones(ids.shape, bool)

    def lengths(self, ids: jax.Array) -> jax.Array:
        """``[B]`` ids per example up to and including ``<eos>`` (other data: all of them)."""
        if not self.is_text:
            return jnp.full(ids.shape[0], self.length, jnp.int32)
        return jnp.argmax(ids == EOS, axis=1).astype(jnp.int32) + 1

    def restrict(self, logits: jax.Array, position: jax.Array) -> jax.Array:
        """Token sequences: ``-inf`` for ``<pad>``, ``<bos>``, and anything but ``<eos>`` at the
        last position (``position``: index among the predicted positions). Else unchanged."""
        if not self.is_text:
            return logits
        token = jnp.arange(self.levels)
        last = jnp.asarray(position)[..., None] == self.steps - 1
        banned = (token == PAD) | (token == BOS) | (last & (token != EOS))
        return jnp.where(banned, -jnp.inf, logits)

    def token_log_probs(self, logits: jax.Array, targets: jax.Array,
                        mask: jax.Array) -> jax.Array:
        """``[B, steps]`` log-probabilities of the targets under ``logits`` ``[B, steps, V]``
        (restricted), 0 where ``mask`` is False."""
        logits = self.restrict(logits, jnp.arange(logits.shape[1]))
        log_p = jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), targets[..., None],
                                    axis=-1)[..., 0]
        return jnp.where(mask, log_p, 0.0)

    def generate(self, first: Callable[[jax.Array], tuple[jax.Array, Any]],
                 step: Callable[[jax.Array, Any], tuple[jax.Array, Any]],
                 choose: Callable[[jax.Array, jax.Array], jax.Array], key: jax.Array,
                 num: int) -> jax.Array:
        """``[num, D]`` ids, one position at a time.

        ``first(start_ids [num, 1])`` and ``step(ids [num, 1], state)`` return the next-token
        logits ``[num, 1, V]`` and the recurrent state; ``choose(key, logits [num, V])`` picks
        the ids (a draw, or the argmax). Token sequences start with ``<bos>`` and are padded
        after their first ``<eos>``.
        """
        start = jnp.full((num, 1), self.start, jnp.int32)
        logits, state = first(start)

        def body(carry, xs):
            k, position = xs
            logits, state, done = carry
            token = choose(k, self.restrict(logits[:, -1], position)).astype(jnp.int32)
            if self.is_text:
                token = jnp.where(done, PAD, token)
                done = done | (token == EOS)
            logits, state = step(token[:, None], state)
            return (logits, state, done), token

        keys = jax.random.split(key, self.steps)
        _, tokens = jax.lax.scan(body, (logits, state, jnp.zeros(num, bool)),
                                 (keys, jnp.arange(self.steps)))
        tokens = tokens.T
        return jnp.concatenate([start, tokens], axis=1) if self.is_text else tokens


def check_sampling(family: str, top_k: int | None, top_p: float | None) -> None:
    """One-line ``ValueError`` for a top-k that is not positive or a nucleus mass outside
    ``(0, 1]`` (a family config's ``__post_init__``)."""
    if top_k is not None and top_k < 1:
        raise ValueError(f"{family}: top_k must be positive, got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"{family}: top_p must lie in (0, 1], got {top_p}")


def filter_logits(logits: jax.Array, top_k: int | None, top_p: float | None) -> jax.Array:
    """``logits`` ``[B, V]`` with the tokens outside the top k, and outside the smallest set
    holding ``top_p`` of the probability, set to ``-inf`` (the most likely token always stays)."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = jax.lax.top_k(logits, top_k)[0][..., -1:]
        logits = jnp.where(logits < kth, -jnp.inf, logits)
    if top_p is not None and top_p < 1.0:
        order = jnp.argsort(-logits, axis=-1)
        sorted_logits = jnp.take_along_axis(logits, order, axis=-1)
        probs = jax.nn.softmax(sorted_logits, axis=-1)
        before = jnp.cumsum(probs, axis=-1) - probs  # probability of the tokens ranked above
        drop = jnp.zeros_like(before, bool).at[
            jnp.arange(logits.shape[0])[:, None], order].set(before >= top_p)
        logits = jnp.where(drop, -jnp.inf, logits)
    return logits


def sampler(temperature: float, top_k: int | None, top_p: float | None
            ) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``choose(key, logits)``: a draw from the logits divided by ``temperature``, filtered."""
    def choose(key: jax.Array, logits: jax.Array) -> jax.Array:
        return jax.random.categorical(key, filter_logits(logits / temperature, top_k, top_p),
                                      axis=-1)
    return choose


def greedy(key: jax.Array, logits: jax.Array) -> jax.Array:
    """``choose(key, logits)`` picking the most likely id (deterministic decoding)."""
    del key
    return jnp.argmax(logits, axis=-1)
