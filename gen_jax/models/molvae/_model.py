"""A variational autoencoder of token sequences (MOSES's SMILES VAE, Gomez-Bombarelli et al.
2018 as MOSES sizes it).

The encoder reads the sequence (``<bos>`` ... ``<eos>``) with a bidirectional GRU; its two
final states give the Gaussian posterior ``q(z | x)``. The decoder is a stacked GRU started
from a linear map of ``z``, with ``z`` concatenated to every input token (teacher forcing in
training), predicting each next token as CharRNN does (:mod:`gen_jax.models._sequences`):
``p(x | z)`` is an exact probability of the sequence, so the ELBO and the importance-sampled
bound are bounds on the molecule's log-probability in nats.

Training minimizes MOSES's objective: the reconstruction cross-entropy per token plus
``kl_weight`` times the KL per molecule, with ``kl_weight`` annealed linearly from
``kl_weight_start`` to ``kl_weight_end`` over ``kl_anneal_steps`` (:class:`ScheduledLoss`), and
optional free bits (each latent dimension's batch-mean KL counts at least ``free_bits`` nats).
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
from .._sequences import SequenceData, check_sampling, greedy, sampler

Dtype = Any
_LOG_2PI = math.log(2.0 * math.pi)


@dataclasses.dataclass(frozen=True)
class MolVAEConfig:
    """The sequence VAE's settings (defaults: MOSES's VAE, workload W9)."""

    embed_dim: int = 32
    """Token embedding size."""
    encoder_hidden: int = 256
    """Units of each direction of the bidirectional GRU encoder."""
    latent_dim: int = 128
    decoder_hidden: int = 512
    decoder_layers: int = 3
    kl_weight_start: float = 0.0
    kl_weight_end: float = 0.05
    """MOSES anneals the KL weight from 0 to 0.05."""
    kl_anneal_steps: int = 100_000
    """Steps of the linear KL annealing (0: ``kl_weight_end`` from the start)."""
    free_bits: float = 0.0
    """Each latent dimension's batch-mean KL counts at least this much (nats; 0: off)."""
    top_k: int | None = None
    """Sampling: draw from the k most likely tokens only."""
    top_p: float | None = None
    """Sampling: nucleus sampling with this much probability."""

    def __post_init__(self):
        for name in ("embed_dim", "encoder_hidden", "latent_dim", "decoder_hidden",
                     "decoder_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"molvae: {name} must be positive, got {getattr(self, name)}")
        if self.kl_anneal_steps < 0 or self.free_bits < 0:
            raise ValueError("molvae: kl_anneal_steps and free_bits must not be negative")
        if min(self.kl_weight_start, self.kl_weight_end) < 0:
            raise ValueError("molvae: the KL weights must not be negative")
        check_sampling("molvae", self.top_k, self.top_p)


class MolVAENet(nn.Module):
    """Bidirectional GRU encoder and stacked GRU decoder over token ids."""

    num_inputs: int
    num_outputs: int
    config: MolVAEConfig
    dtype: Dtype = jnp.float32

    def setup(self):
        c, pd = self.config, output_dtype(self.dtype)
        gru = lambda n: nn.GRUCell(n, dtype=self.dtype, param_dtype=pd)  # noqa: E731
        self.embed = nn.Embed(self.num_inputs, c.embed_dim, dtype=self.dtype, param_dtype=pd)
        self.encoder = nn.Bidirectional(nn.RNN(gru(c.encoder_hidden)),
                                        nn.RNN(gru(c.encoder_hidden)), return_carry=True)
        self.to_posterior = nn.Dense(2 * c.latent_dim, dtype=self.dtype, param_dtype=pd)
        self.to_hidden = nn.Dense(c.decoder_hidden, dtype=self.dtype, param_dtype=pd)
        self.decoder = [nn.RNN(gru(c.decoder_hidden), return_carry=True, name=f"decoder_{i}")
                        for i in range(c.decoder_layers)]
        self.head = nn.Dense(self.num_outputs, dtype=self.dtype, param_dtype=pd)

    def encode(self, ids: jax.Array, lengths: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``[B, T]`` ids (the first ``lengths`` of each row read) -> ``(mean, log_var)``."""
        (forward, backward), _ = self.encoder(self.embed(ids), seq_lengths=lengths)
        out = self.to_posterior(jnp.concatenate([forward, backward], axis=-1))
        mean, log_var = jnp.split(out.astype(output_dtype(self.dtype)), 2, axis=-1)
        return mean, log_var

    def decode(self, z: jax.Array, inputs: jax.Array, carries: tuple | None = None
               ) -> tuple[jax.Array, tuple]:
        """Next-token logits ``[B, T, V]`` for ``inputs`` ``[B, T]`` given ``z``, continuing
        from ``carries`` (None: the state ``z`` maps to)."""
        x = self.embed(inputs)
        x = jnp.concatenate([x, jnp.broadcast_to(z[:, None].astype(x.dtype),
                                                 (*x.shape[:2], z.shape[-1]))], axis=-1)
        if carries is None:
            carries = (self.to_hidden(z),) * len(self.decoder)
        new = []
        for rnn, carry in zip(self.decoder, carries, strict=True):
            carry, x = rnn(x, initial_carry=carry)
            new.append(carry)
        return self.head(x).astype(output_dtype(self.dtype)), tuple(new)

    def __call__(self, ids: jax.Array, lengths: jax.Array, inputs: jax.Array) -> jax.Array:
        mean, _ = self.encode(ids, lengths)
        return self.decode(mean, inputs)[0]


class MolVAE:
    """The sequence VAE family bound to a config and a discrete data set.

    Capabilities: :class:`~gen_jax.models.Sampling`,
    :class:`~gen_jax.models.TemperatureSampling` (decoder logits divided by the temperature),
    :class:`~gen_jax.models.LikelihoodBound`, :class:`~gen_jax.models.Reconstruction` and
    :class:`~gen_jax.models.LatentCode` (greedy decoding of the posterior mean),
    :class:`~gen_jax.models.DataRequirements`, :class:`~gen_jax.models.ScheduledLoss` (KL
    annealing).
    """

    def __init__(self, config: MolVAEConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32):
        self.seq = SequenceData(info, "molvae")
        self.config, self.info, self.dtype = config, info, dtype
        self.num_classes = 0
        self.net = MolVAENet(self.seq.num_inputs, self.seq.levels, config, dtype)

    def _encode(self, variables: Variables, ids: jax.Array) -> tuple[jax.Array, jax.Array]:
        return self.net.apply(variables, ids, self.seq.lengths(ids), method=MolVAENet.encode)

    def _log_likelihood(self, variables: Variables, ids: jax.Array, z: jax.Array) -> jax.Array:
        """``log p(x | z)`` ``[B]`` (nats)."""
        inputs, targets, mask = self.seq.split(ids)
        logits, _ = self.net.apply(variables, z, inputs, method=MolVAENet.decode)
        return jnp.sum(self.seq.token_log_probs(logits, targets, mask), axis=1)

    def kl_weight(self, step: jax.Array) -> jax.Array:
        """The annealed KL weight at ``step``."""
        c = self.config
        if c.kl_anneal_steps == 0:
            return jnp.asarray(c.kl_weight_end, jnp.float32)
        frac = jnp.clip(jnp.asarray(step, jnp.float32) / c.kl_anneal_steps, 0.0, 1.0)
        return c.kl_weight_start + (c.kl_weight_end - c.kl_weight_start) * frac

    def _terms(self, variables: Variables, x: jax.Array, key: jax.Array):
        ids = self.seq.ids(x)
        mean, log_var = self._encode(variables, ids)
        z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape, mean.dtype)
        recon = -self._log_likelihood(variables, ids, z)
        kl_dims = 0.5 * (mean**2 + jnp.exp(log_var) - 1.0 - log_var)  # [B, latent]
        tokens = jnp.sum(self.seq.split(ids)[2], axis=1)
        return recon, kl_dims, tokens

    # ----- the core contract ---------------------------------------------------------------

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """Initial variables for a batch of this shape."""
        ids = self.seq.ids(batch["x"])
        inputs, _, _ = self.seq.split(ids)
        return {"params": self.net.init(key, ids, self.seq.lengths(ids), inputs)["params"]}

    def loss_at(self, variables: Variables, batch: Batch, key: jax.Array, step: jax.Array, *,
                train: bool = True) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """MOSES's objective at ``step``: reconstruction cross-entropy per token plus the
        annealed KL weight times the KL per molecule (with free bits)."""
        del train
        recon, kl_dims, tokens = self._terms(variables, batch["x"], key)
        kl = jnp.sum(kl_dims, axis=1)
        kl_term = (jnp.sum(jnp.maximum(jnp.mean(kl_dims, axis=0), self.config.free_bits))
                   if self.config.free_bits else jnp.mean(kl))
        weight = self.kl_weight(step)
        recon_per_token = jnp.sum(recon) / jnp.maximum(jnp.sum(tokens), 1)
        loss = recon_per_token + weight * kl_term
        return loss, ({"elbo": -jnp.mean(recon + kl), "recon_nll": jnp.mean(recon),
                       "recon_per_token": recon_per_token, "kl": jnp.mean(kl),
                       "kl_weight": weight}, {})

    def loss(self, variables: Variables, batch: Batch, key: jax.Array, *,
             train: bool = True) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """The objective at the end of the KL annealing."""
        return self.loss_at(variables, batch, key, jnp.asarray(self.config.kl_anneal_steps),
                            train=train)

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per-example ``elbo``, ``recon_nll`` and ``kl`` (nats, one posterior draw)."""
        recon, kl_dims, _ = self._terms(variables, batch["x"], key)
        kl = jnp.sum(kl_dims, axis=1)
        return {"elbo": -(recon + kl), "recon_nll": recon, "kl": kl}

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """Per-example negative ELBO (nats, one posterior draw)."""
        return -self.evaluate(variables, batch, key)["elbo"]

    # ----- capabilities ----------------------------------------------------------------------

    def log_importance_weights(self, variables: Variables, x: jax.Array, key: jax.Array,
                               num_samples: int, label: jax.Array | None = None) -> jax.Array:
        """``[num_samples, B]`` ``log p(x | z) + log p(z) - log q(z | x)``, ``z ~ q(z | x)``."""
        del label
        ids = self.seq.ids(x)
        mean, log_var = self._encode(variables, ids)
        eps = jax.random.normal(key, (num_samples, *mean.shape), mean.dtype)
        z = mean + jnp.exp(0.5 * log_var) * eps  # [k, B, latent]
        log_q = -0.5 * jnp.sum(eps**2 + log_var + _LOG_2PI, axis=-1)
        log_prior = -0.5 * jnp.sum(z**2 + _LOG_2PI, axis=-1)
        b = ids.shape[0]
        flat = self._log_likelihood(variables, jnp.tile(ids, (num_samples, 1)),
                                    z.reshape(num_samples * b, -1))
        return flat.reshape(num_samples, b) + log_prior - log_q

    def bound_in_bits(self, data: DataConfig) -> bool:
        """True: ``p(x | z)`` is a probability of the discrete sequence."""
        del data
        return True

    def _decode(self, variables: Variables, z: jax.Array, key: jax.Array, choose) -> jax.Array:
        num = z.shape[0]

        def first(ids):
            return self.net.apply(variables, z, ids, method=MolVAENet.decode)

        def step(ids, carries):
            return self.net.apply(variables, z, ids, carries, method=MolVAENet.decode)

        return self.seq.generate(first, step, choose, key, num)

    def sample_at_temperature(self, variables: Variables, key: jax.Array, num: int,
                              temperature: float, label: jax.Array | None = None) -> jax.Array:
        """``[num, *shape]``: ``z ~ N(0, I)`` decoded token by token from logits divided by
        ``temperature``, with the config's top-k and nucleus filters."""
        del label
        c = self.config
        key_z, key_x = jax.random.split(key)
        z = jax.random.normal(key_z, (num, c.latent_dim), output_dtype(self.dtype))
        ids = self._decode(variables, z, key_x, sampler(temperature, c.top_k, c.top_p))
        return self.seq.values(ids, output_dtype(self.dtype), self.info.shape)

    def sample(self, variables: Variables, key: jax.Array, num: int,
               label: jax.Array | None = None) -> jax.Array:
        """:meth:`sample_at_temperature` at temperature 1."""
        return self.sample_at_temperature(variables, key, num, 1.0, label)

    def to_latent(self, variables: Variables, x: jax.Array,
                  label: jax.Array | None = None) -> jax.Array:
        """The posterior mean ``[B, latent_dim]``."""
        del label
        return self._encode(variables, self.seq.ids(x))[0]

    def from_latent(self, variables: Variables, z: jax.Array,
                    label: jax.Array | None = None) -> jax.Array:
        """The greedy (most likely token at each step) decoding of ``z``: ``[N, *shape]``."""
        del label
        ids = self._decode(variables, z, jax.random.PRNGKey(0), greedy)
        return self.seq.values(ids, output_dtype(self.dtype), self.info.shape)

    def reconstruct(self, variables: Variables, x: jax.Array,
                    label: jax.Array | None = None) -> jax.Array:
        """The greedy decoding of the posterior mean: ``[B, *shape]``."""
        return self.from_latent(variables, self.to_latent(variables, x, label), label)

    def check_data(self, data: DataConfig) -> None:
        """One-line ``ValueError`` for binarized, dequantized or perturbed token sequences."""
        self.seq.check_data(data)

    def dequantizes(self) -> bool:
        """False: the values reach the model as stored (scaled to ``[0, 1]``)."""
        return False


def build(config: MolVAEConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32) -> MolVAE:
    """A :class:`MolVAE` for ``info``'s discrete data (one-line ``ValueError`` otherwise)."""
    return MolVAE(config, info, dtype=dtype)
