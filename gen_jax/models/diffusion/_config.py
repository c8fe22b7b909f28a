"""The diffusion family's config: noise process, prediction, network, sampler, likelihood."""

from __future__ import annotations

import dataclasses
from typing import Literal

from .._continuous import ContinuousConfig


@dataclasses.dataclass(frozen=True)
class DiffusionConfig(ContinuousConfig):
    """A diffusion model (``gen-jax train diffusion``).

    The defaults are DDPM (Ho et al. 2020) on W8's U-Net: 1000 steps of the linear schedule,
    epsilon prediction, sampled with 50 DDIM steps.
    """

    process: Literal["ddpm", "vp", "subvp", "ve", "edm"] = "ddpm"
    """ddpm: discrete time; vp, subvp, ve: Song et al.'s SDEs; edm: Karras et al.'s sigma-time
    with log-normal training levels."""
    prediction: Literal["eps", "x0", "v", "edm"] = "eps"
    """What the network predicts (each trained on its own target's mean squared error); edm:
    EDM's preconditioned denoiser (any process)."""
    schedule: Literal["linear", "cosine"] = "linear"
    """ddpm: the beta schedule."""
    num_timesteps: int = 1000
    """ddpm: the number of steps N."""
    beta_min: float = 0.1
    """ddpm (linear: beta_1 = beta_min / N), vp, subvp: beta(0)."""
    beta_max: float = 20.0
    """ddpm (linear: beta_N = beta_max / N), vp, subvp: beta(1)."""
    sigma_min: float | None = None
    """ve (default 0.01) and edm (0.002): the smallest noise level."""
    sigma_max: float | None = None
    """ve (default 50, about the largest distance between training images) and edm (80)."""
    t_min: float | None = None
    """vp, subvp (default 1e-3) and ve (1e-5): the earliest time of sampling and likelihoods."""
    sigma_data: float = 0.5
    """edm prediction: the data's standard deviation in the preconditioning."""
    p_mean: float = -1.2
    """edm: mean of the training ``ln sigma``."""
    p_std: float = 1.2
    """edm: standard deviation of the training ``ln sigma``."""
    rho: float = 7.0
    """edm: the sampling grid's ``rho``."""
