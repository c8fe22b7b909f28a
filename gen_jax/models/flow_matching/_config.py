"""The flow-matching family's config: probability path, coupling, network, sampler."""

from __future__ import annotations

import dataclasses
from typing import Literal

from .._continuous import ContinuousConfig


@dataclasses.dataclass(frozen=True)
class FlowMatchingConfig(ContinuousConfig):
    """Conditional flow matching (``gen-jax train flow_matching``; Lipman et al. 2023, Liu et
    al. 2023, Tong et al. 2023).

    Time runs from noise ``x_0 ~ N(0, I)`` at ``t = 0`` to data ``x_1`` at ``t = 1``; the
    network regresses the conditional velocity of the path, and sampling integrates it.
    """

    path: Literal["rectified", "gaussian"] = "rectified"
    """rectified: ``x_t = t x_1 + (1 - t) x_0``, velocity ``x_1 - x_0`` (the straight path);
    gaussian: Lipman et al.'s optimal-transport Gaussian path ``x_t = t x_1 + (1 - (1 -
    sigma_min) t) x_0``, velocity ``x_1 - (1 - sigma_min) x_0``."""
    sigma_min: float = 1e-4
    """gaussian path: the standard deviation left around each data point at ``t = 1``."""
    coupling: Literal["independent", "ot"] = "independent"
    """independent: noise and data paired at random; ot: paired within each minibatch by an
    optimal-transport plan (OT-CFM, Tong et al. 2023), which straightens the paths."""
    ot_epsilon: float = 0.0
    """ot: 0 pairs by the exact assignment (scipy on the host); > 0 draws pairs from ott-jax's
    entropic plan with this regularization, relative to the batch's mean squared distance."""
    sampler: str = "euler"
    steps: int = 50
