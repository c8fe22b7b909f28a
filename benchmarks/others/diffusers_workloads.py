"""W8 in diffusers (PyTorch): the same U-Net, training step and DDIM sampling a user of
diffusers would write.

``UNet2DModel(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(64, 128,
128), layers_per_block=2, down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), norm_num_groups=32)`` as
BENCHMARKS.md gives it; ``attention_head_dim=32`` makes its attention 4 heads at 128 channels,
as in gen_jax's U-Net. Training: ``DDPMScheduler(num_train_timesteps=1000)`` (linear betas
1e-4 to 0.02), timesteps uniform, epsilon-prediction MSE, Adam 2e-4, batch 128 of 28x28x1
images in [-1, 1]. Sampling: ``DDIMScheduler`` with 50 steps, eta 0, 256 images, under
``torch.no_grad``. Eager mode; threads as ``torch_workloads.set_threads`` sets them.

Differences from gen_jax's U-Net that do not change the work much: diffusers' down path puts
attention after every block of the 7x7 level (so does gen_jax's) and its upsampler is
nearest-neighbour then a 3x3 convolution (the same).
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel

from gen_jax.bench import Workload


def w8_unet() -> UNet2DModel:
    return UNet2DModel(
        sample_size=28, in_channels=1, out_channels=1, block_out_channels=(64, 128, 128),
        layers_per_block=2, down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), norm_num_groups=32,
        attention_head_dim=32)


def train_w8(batch: int = 128, seed: int = 0) -> Workload:
    torch.manual_seed(seed)
    model = w8_unet()
    scheduler = DDPMScheduler(num_train_timesteps=1000)
    x = torch.as_tensor(np.random.default_rng(seed).integers(0, 256, (batch, 1, 28, 28))
                        .astype(np.float32) / 127.5 - 1.0)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)

    def step(_):
        noise = torch.randn_like(x)
        t = torch.randint(0, 1000, (batch,))
        noisy = scheduler.add_noise(x, noise, t)
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(noisy, t).sample, noise)
        loss.backward()
        opt.step()
        return loss.detach()

    return Workload(name="W8 diffusion-unet-28", call=step, carry=None, matmul_flops=0.0,
                    description="diffusers UNet2DModel train step, eager, epsilon MSE")


def sample_w8(num: int = 256, steps: int = 50, seed: int = 0) -> Workload:
    torch.manual_seed(seed)
    model = w8_unet().eval()
    scheduler = DDIMScheduler(num_train_timesteps=1000)
    scheduler.set_timesteps(steps)

    @torch.no_grad()
    def call(_):
        x = torch.randn(num, 1, 28, 28)
        for t in scheduler.timesteps:
            x = scheduler.step(model(x, t).sample, t, x, eta=0.0).prev_sample
        return x

    return Workload(name="W8 sample ddim-unet-28", call=call, carry=None, matmul_flops=0.0,
                    items_per_call=num,
                    description=f"diffusers DDIMScheduler {steps} steps, eta 0, {num} images")


WORKLOADS = {"w8": train_w8, "w8-sample": sample_w8}
