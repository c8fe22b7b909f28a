"""What a benchmark workload is: one call to time, its carry and its FLOPs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass
class Workload:
    """One benchmark workload.

    Attributes:
      name: id from BENCHMARKS.md, e.g. ``"W4 vae-mlp-784"``.
      call: ``carry -> carry``, one production step (or one sampling call).
      carry: initial carried value (e.g. the placed train state).
      matmul_flops: matmul FLOPs of one call (forward + backward), for the peak-rate fraction.
      items_per_call: steps (1) or samples per call.
      description: how this maps to the BENCHMARKS.md definition.
    """

    name: str
    call: Callable[[Any], Any]
    carry: Any
    matmul_flops: float
    items_per_call: int = 1
    description: str = ""
