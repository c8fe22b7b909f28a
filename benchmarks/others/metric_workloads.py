"""W7 in the references a user would otherwise reach for: the ``prdc`` package (Naeem et al.'s
code) and a scipy Frechet distance.

* ``prdc`` 0.2: ``prdc.compute_prdc(real, fake, nearest_k=5)`` on the same float32 arrays (it
  computes full ``[N, N]`` distance matrices with ``sklearn.metrics.pairwise_distances(...,
  n_jobs=8)`` and ``np.argpartition``; its progress print is silenced).
* ``scipy``: the Frechet distance as pytorch-fid and TTUR compute it: ``np.mean`` and
  ``np.cov(rowvar=False)`` of the features (float64), ``scipy.linalg.sqrtm(sigma1 @ sigma2)``,
  the real part, ``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr(covmean)``; the ``eps * I``
  retry of pytorch-fid only runs when the product is singular, which it is not here.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from gen_jax.bench import Workload
from gen_jax.bench._metric_workloads import W7_K, fd_flops, prdc_full_flops, w7_features


def scipy_frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """pytorch-fid's ``calculate_frechet_distance`` on the statistics of ``x`` and ``y``."""
    from scipy import linalg

    mu1, mu2 = np.mean(x, axis=0), np.mean(y, axis=0)
    sigma1, sigma2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    covmean = np.real(covmean)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def scipy_fd(num: int = 10_000, dim: int = 2048) -> Workload:
    real, generated = w7_features(num, dim)

    def call(carry):
        return real, generated, scipy_frechet_distance(real, generated)

    return Workload(name="W7 frechet-distance (scipy sqrtm)", call=call,
                    carry=(real, generated, 0.0), matmul_flops=fd_flops(num, dim),
                    description="numpy mean/cov (float64) + scipy.linalg.sqrtm, as pytorch-fid")


def prdc_package(num: int = 10_000, dim: int = 2048) -> Workload:
    from prdc import compute_prdc

    real, generated = w7_features(num, dim)

    def call(carry):
        with contextlib.redirect_stdout(io.StringIO()):
            out = compute_prdc(real, generated, nearest_k=W7_K)
        return real, generated, out

    return Workload(name="W7 prdc-k5 (prdc package)", call=call, carry=(real, generated, None),
                    matmul_flops=prdc_full_flops(num, dim),
                    description="prdc.compute_prdc(nearest_k=5): sklearn pairwise_distances "
                                "(n_jobs=8) and np.argpartition on full [N, N] matrices")


WORKLOADS = {("scipy", "w7-fd"): scipy_fd, ("prdc", "w7-prdc"): prdc_package}
"""(library, workload id) -> constructor."""
