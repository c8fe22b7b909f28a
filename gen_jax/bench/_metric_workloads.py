"""W7 of BENCHMARKS.md: the evaluation metrics on two sets of 10,000 feature vectors of 2048-d.

Two timed calls, each the public :mod:`gen_jax.metrics` function a user calls on feature arrays
(never a copy): ``w7-fd`` is :func:`gen_jax.metrics.frechet_distance` (both covariances from the
features, then the distance), ``w7-prdc`` is :func:`gen_jax.metrics.prdc` with k = 5 (both
radius passes and the cross pass). The features are Gaussian, the generated set shifted and
rescaled a little (timing does not depend on the values; the smoke test checks their ranges).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..metrics import frechet_distance, prdc, self_tile_pairs
from ._workload import Workload

W7_NUM = 10_000
W7_DIM = 2048
W7_K = 5


def w7_features(num: int = W7_NUM, dim: int = W7_DIM, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """``(real, generated)`` float32 ``[num, dim]`` host arrays: N(0, I) and N(0.02, 1.01^2 I)."""
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((num, dim), dtype=np.float32)
    generated = 0.02 + 1.01 * rng.standard_normal((num, dim), dtype=np.float32)
    return real, generated


def fd_flops(num: int, dim: int) -> float:
    """Matmul FLOPs of one Frechet distance: two ``D x D`` Gram sums, ``C^T S_2 C``."""
    return 2 * 2.0 * num * dim * dim + 2 * 2.0 * dim**3


def prdc_flops(num: int, dim: int) -> float:
    """Matmul FLOPs of one gen_jax PRDC: the full ``N x N`` cross pass and, for each set, the
    square tiles on and above the diagonal of its self-distances (what is computed)."""
    pairs, side = self_tile_pairs(num)
    return 2.0 * dim * (num * num + 2 * pairs * side * side)


def prdc_full_flops(num: int, dim: int) -> float:
    """Matmul FLOPs of three full ``N x N`` distance passes (what the ``prdc`` package does)."""
    return 3 * 2.0 * num * num * dim


def w7_fd(num: int = W7_NUM, dim: int = W7_DIM, seed: int = 0) -> Workload:
    """W7, Frechet distance: ``frechet_distance(real, generated)`` from the feature arrays."""
    real, generated = (jnp.asarray(a) for a in w7_features(num, dim, seed))

    def call(carry):
        x, y, _ = carry
        return x, y, frechet_distance(x, y)

    return Workload(
        name="W7 metrics frechet-distance", call=call, carry=(real, generated, jnp.zeros(())),
        matmul_flops=fd_flops(num, dim), items_per_call=1,
        description=f"gen_jax.metrics.frechet_distance on two [{num}, {dim}] float32 feature "
                    "sets: blockwise covariances, two symmetric eigendecompositions")


def w7_prdc(num: int = W7_NUM, dim: int = W7_DIM, seed: int = 0, k: int = W7_K) -> Workload:
    """W7, precision/recall/density/coverage: ``prdc(real, generated, k=5)``."""
    real, generated = (jnp.asarray(a) for a in w7_features(num, dim, seed))

    def call(carry):
        x, y, _ = carry
        return x, y, jnp.stack(prdc(x, y, k=k))

    return Workload(
        name="W7 metrics prdc-k5", call=call, carry=(real, generated, jnp.zeros((4,))),
        matmul_flops=prdc_flops(num, dim), items_per_call=1,
        description=f"gen_jax.metrics.prdc(k={k}) on two [{num}, {dim}] float32 feature sets: "
                    "k-th neighbour radii of both sets and the cross pass, in [block, N] tiles")


METRIC_WORKLOADS = {"w7-fd": w7_fd, "w7-prdc": w7_prdc}
"""Workload id -> constructor (W7)."""


def check_metric_result(name: str, carry) -> bool:
    """Smoke check of a W7 result: finite, FD > 0, PRDC values in their ranges."""
    out = np.asarray(jax.device_get(carry[2]))
    if not np.all(np.isfinite(out)):
        return False
    if name == "w7-fd":
        return bool(out > 0)
    precision, recall, density, coverage = out
    return bool(0 <= precision <= 1 and 0 <= recall <= 1 and density >= 0 and 0 <= coverage <= 1)
