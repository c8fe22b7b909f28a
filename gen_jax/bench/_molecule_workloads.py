"""W9 of BENCHMARKS.md: the MOSES-size SMILES VAE's production training step."""

from __future__ import annotations

import numpy as np

from ..config import OptimConfig
from ..data import SPECIALS, DatasetInfo
from ..models import MolVAEConfig
from ._setup import production_setup
from ._workload import Workload

W9_VOCAB = 30
W9_LENGTH = 60
W9_INFO = DatasetInfo(name="w9_tokens", shape=(W9_LENGTH,), num_classes=0, num_levels=W9_VOCAB,
                      vocabulary=SPECIALS + tuple(f"t{i}" for i in range(W9_VOCAB - 3)))


def w9_batch(batch_size: int, seed: int = 0) -> np.ndarray:
    """``[batch, 60]`` uint8 token sequences: ``<bos>``, 20 to 57 random tokens, ``<eos>``,
    padding (MOSES's SMILES have 8 to 57 tokens, 35 on average)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((batch_size, W9_LENGTH), np.uint8)
    for row, n in enumerate(rng.integers(20, W9_LENGTH - 2, batch_size)):
        x[row, 0] = 1
        x[row, 1:n + 1] = rng.integers(3, W9_VOCAB, n)
        x[row, n + 1] = 2
    return x


def w9_flops(batch: int, cfg: MolVAEConfig) -> float:
    """Matmul FLOPs of one step (GRU: 3 gates of ``(input + hidden) x hidden`` per position;
    backward ~ 2x forward)."""
    t, e, h, z = W9_LENGTH, cfg.embed_dim, cfg.encoder_hidden, cfg.latent_dim
    d = cfg.decoder_hidden
    encoder = 2 * t * 2 * 3 * (e + h) * h  # two directions
    decoder = (t - 1) * 2 * 3 * ((e + z + d) * d + (cfg.decoder_layers - 1) * 2 * d * d)
    head = (t - 1) * 2 * d * W9_VOCAB
    dense = 2 * (2 * h * 2 * z + z * d)
    return 3.0 * batch * (encoder + decoder + head + dense)


def molvae_w9(batch_size: int = 512, seed: int = 0, devices: list | None = None,
              **overrides) -> Workload:
    """W9: MOSES's SMILES VAE (embedding 32, bidirectional GRU 256 -> latent 128, 3-layer GRU
    512 decoder with the latent at every step), batch 512 of 60-token sequences, Adam 3e-4."""
    cfg = MolVAEConfig(**overrides)
    s = production_setup("molvae", cfg, W9_INFO, w9_batch(batch_size, seed),
                         OptimConfig(optimizer="adam", learning_rate=3e-4), seed, devices)
    return Workload(
        name="W9 mol-vae", call=lambda st: s.step(st, s.batch)[0], carry=s.state,
        matmul_flops=w9_flops(batch_size, cfg), items_per_call=1,
        description="production sequence-VAE train step (make_train_step under JitStrategy, "
                    "KL annealing through ScheduledLoss)",
    )


MOLECULE_WORKLOADS = {"w9": molvae_w9}
