"""How a continuous-time family draws samples: the sampler, its steps and options.

Diffusion models and flow matching share :class:`SamplerSettings`; the engine hands one to a
family that implements :class:`~gen_jax.models.SolverSampling` (``gen-jax sample --sampler ddim
--steps 50``).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SamplerSettings:
    """How to draw samples: the sampler and its number of steps and options.

    Attributes:
      name: one of :data:`SAMPLERS` (flow matching: euler, heun, adaptive).
      steps: grid points K (network evaluations for the first-order samplers).
      eta: ddim's stochasticity (0: deterministic, 1: ancestral).
      guidance_scale: classifier-free guidance ``w``: ``out_uncond + w (out_cond -
        out_uncond)``; 1 is the conditional model, 0 the unconditional one, above 1 guided.
      snr: pc's Langevin signal-to-noise ratio (Song et al.: 0.16 for VE, 0.01 for VP).
      corrector_steps: pc's Langevin steps per time.
      clip_denoised: images: each estimate of the clean image is clipped to its range
        (DDPM's and diffusers' default); no effect on continuous data.
      rtol: adaptive's relative tolerance.
      atol: adaptive's absolute tolerance.
    """

    name: str = "ddim"
    steps: int = 50
    eta: float = 0.0
    guidance_scale: float = 1.0
    snr: float = 0.16
    corrector_steps: int = 1
    clip_denoised: bool = True
    rtol: float = 1e-5
    atol: float = 1e-5

    def check(self, names: tuple[str, ...]) -> None:
        """Raises a one-line ``ValueError`` on an unknown sampler or settings out of range."""
        if self.name not in names:
            raise ValueError(f"unknown sampler {self.name!r}; use one of {', '.join(names)}")
        if self.steps < 1:
            raise ValueError(f"sampler steps must be >= 1, got {self.steps}")
        if not 0 <= self.eta <= 1:
            raise ValueError(f"eta must be in [0, 1], got {self.eta}")
        if self.snr <= 0 or self.corrector_steps < 0:
            raise ValueError(f"pc needs snr > 0 and corrector_steps >= 0, got {self.snr} and "
                             f"{self.corrector_steps}")
        if self.rtol <= 0 or self.atol <= 0:
            raise ValueError(f"adaptive needs rtol > 0 and atol > 0, got {self.rtol} and "
                             f"{self.atol}")
