"""W4 (MLP VAE), W5 (DCGAN) and W9 (SMILES VAE) in plain PyTorch: the step a user would write
by hand.

Eager mode, ``torch.set_num_threads`` = the cores this process may use (set by
``torch_workloads.set_threads``), default ``nn.Linear``/``nn.Conv*`` initialisation (timing does
not depend on it), inputs drawn once like gen_jax's workloads.

* W4: encoder 784-512-512-64 (mean, log-variance), decoder 32-512-512-784 logits, ReLU, one
  reparameterized sample, loss = mean negative ELBO with ``binary_cross_entropy_with_logits``
  and the analytic KL; Adam 1e-3; batch 128 of binary 784-d vectors.
* W5: G z(100) -> Linear 7x7x256 -> BN, ReLU -> ConvTranspose2d 256->128 (5x5, s1, pad 2) -> BN,
  ReLU -> ConvTranspose2d 128->64 (5x5, s2, pad 2, output_padding 1) -> BN, ReLU ->
  ConvTranspose2d 64->1 (5x5, s2) -> tanh; D Conv2d 1->64 (5x5, s2, pad 2) -> LeakyReLU 0.2 ->
  Conv2d 64->128 (5x5, s2, pad 2) -> LeakyReLU 0.2 -> Linear 6272 -> 1; non-saturating loss
  (``binary_cross_entropy_with_logits``); one D update (real batch + detached fakes) then one G
  update on fresh noise; Adam 2e-4, betas (0.5, 0.999); batch 64 of 28x28x1 images in [-1, 1].
  Difference from gen_jax's step: PyTorch pads the stride-2 convolutions symmetrically (2, 2)
  where flax's ``SAME`` pads (1, 2); the same FLOPs and shapes. gen_jax's generator has no bias
  before batch norm; here the bias is kept, as a user writing ``nn.ConvTranspose2d`` would.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gen_jax.bench import Workload


class VAE(nn.Module):
    def __init__(self, dim: int = 784, hidden: int = 512, latent: int = 32):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                     nn.ReLU(), nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(),
                                     nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        mean, log_var = self.encoder(x).chunk(2, dim=-1)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        logits = self.decoder(z)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        kl = 0.5 * (mean.square() + log_var.exp() - 1.0 - log_var).sum(-1)
        return (rec + kl).mean()


def vae_w4(batch: int = 128, seed: int = 0) -> Workload:
    torch.manual_seed(seed)
    model = VAE()
    x = torch.as_tensor(np.random.default_rng(seed).integers(0, 2, (batch, 784))
                        .astype(np.float32))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(_):
        opt.zero_grad(set_to_none=True)
        loss = model.loss(x)
        loss.backward()
        opt.step()
        return loss.detach()

    return Workload(name="W4 plain PyTorch", call=step, carry=None, matmul_flops=0.0,
                    description="plain PyTorch MLP VAE step (eager), Adam 1e-3")


def generator() -> nn.Module:
    return nn.Sequential(
        nn.Linear(100, 7 * 7 * 256), nn.Unflatten(1, (256, 7, 7)), nn.BatchNorm2d(256), nn.ReLU(),
        nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2), nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1),
        nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1), nn.Tanh())


def discriminator() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 64, 5, stride=2, padding=2), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 5, stride=2, padding=2), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(7 * 7 * 128, 1))


def dcgan_w5(batch: int = 64, seed: int = 0) -> Workload:
    torch.manual_seed(seed)
    g, d = generator(), discriminator()
    x = torch.as_tensor(np.random.default_rng(seed).uniform(-1, 1, (batch, 1, 28, 28))
                        .astype(np.float32))
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)

    def step(_):
        fake = g(torch.randn(batch, 100))
        opt_d.zero_grad(set_to_none=True)
        d_loss = (F.binary_cross_entropy_with_logits(d(x), ones)
                  + F.binary_cross_entropy_with_logits(d(fake.detach()), zeros))
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        g_loss = F.binary_cross_entropy_with_logits(d(g(torch.randn(batch, 100))), ones)
        g_loss.backward()
        opt_g.step()
        return g_loss.detach()

    return Workload(name="W5 plain PyTorch", call=step, carry=None, matmul_flops=0.0,
                    description="plain PyTorch DCGAN step (eager): D update then G update, "
                                "nn.ConvTranspose2d, Adam 2e-4 b1 0.5")


class MolVAE(nn.Module):
    """W9: MOSES's SMILES VAE as MOSES writes it (``moses/vae/model.py``), with W9's sizes."""

    def __init__(self, vocab: int = 30, embed: int = 32, enc: int = 256, latent: int = 128,
                 dec: int = 512, layers: int = 3):
        super().__init__()
        self.layers = layers
        self.embed = nn.Embedding(vocab, embed, padding_idx=0)
        self.encoder = nn.GRU(embed, enc, batch_first=True, bidirectional=True)
        self.posterior = nn.Linear(2 * enc, 2 * latent)
        self.to_hidden = nn.Linear(latent, dec)
        self.decoder = nn.GRU(embed + latent, dec, num_layers=layers, batch_first=True)
        self.head = nn.Linear(dec, vocab)

    def loss(self, x: torch.Tensor, lengths: torch.Tensor, kl_weight: float) -> torch.Tensor:
        e = self.embed(x)
        packed = nn.utils.rnn.pack_padded_sequence(e, lengths, batch_first=True,
                                                   enforce_sorted=False)
        _, h = self.encoder(packed)  # [2, B, enc]: the final state of each direction
        mean, log_var = self.posterior(torch.cat([h[0], h[1]], dim=-1)).chunk(2, dim=-1)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        inputs = torch.cat([e[:, :-1], z[:, None].expand(-1, x.shape[1] - 1, -1)], dim=-1)
        h0 = self.to_hidden(z)[None].repeat(self.layers, 1, 1)
        out, _ = self.decoder(inputs, h0)
        logits = self.head(out)
        rec = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                              ignore_index=0)
        kl = 0.5 * (mean.square() + log_var.exp() - 1.0 - log_var).sum(-1).mean()
        return rec + kl_weight * kl


def molvae_w9(batch: int = 512, seed: int = 0) -> Workload:
    from gen_jax.bench._molecule_workloads import w9_batch

    torch.manual_seed(seed)
    model = MolVAE()
    x_np = w9_batch(batch, seed)
    x = torch.as_tensor(x_np.astype(np.int64))
    lengths = torch.as_tensor((np.argmax(x_np == 2, axis=1) + 1).astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)

    def step(_):
        opt.zero_grad(set_to_none=True)
        loss = model.loss(x, lengths, 0.05)
        loss.backward()
        opt.step()
        return loss.detach()

    return Workload(name="W9 plain PyTorch", call=step, carry=None, matmul_flops=0.0,
                    description="plain PyTorch SMILES VAE step (eager, cuDNN-style nn.GRU, "
                                "packed encoder input as MOSES), Adam 3e-4")


WORKLOADS = {("torch", "w4"): vae_w4, ("torch", "w5"): dcgan_w5, ("torch", "w9"): molvae_w9}
"""(library, workload id) -> constructor."""
