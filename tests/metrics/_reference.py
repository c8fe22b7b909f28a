"""Brute-force float64 numpy references for the feature metrics (full distance matrices)."""

import numpy as np
import scipy.linalg


def sq_dist(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)


def knn_radii(x, k):
    """Distance to the k-th nearest other row ((k+1)-th smallest, own zero included)."""
    return np.sort(np.sqrt(sq_dist(x, x)), axis=1)[:, k]


def prdc(real, fake, k):
    """The ``prdc`` package's formulas (Naeem et al. 2020), strict inequalities."""
    real_r, fake_r = knn_radii(real, k), knn_radii(fake, k)
    d = np.sqrt(sq_dist(real, fake))  # [N, M]
    return {
        "precision": (d < real_r[:, None]).any(axis=0).mean(),
        "recall": (d < fake_r[None, :]).any(axis=1).mean(),
        "density": (d < real_r[:, None]).sum(axis=0).mean() / k,
        "coverage": (d.min(axis=1) < real_r).mean(),
    }


def frechet(x, y):
    """FD through scipy's sqrtm (pytorch-fid's formula), float64."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m1, m2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def mmd2_unbiased(x, y, degree=3):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m, d = x.shape
    k = lambda a, b: (a @ b.T / d + 1.0) ** degree  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    off = lambda a: a.sum() - np.trace(a)  # noqa: E731
    return (off(kxx) + off(kyy)) / (m * (m - 1)) - 2 * kxy.sum() / m**2


def mmd2_biased(x, y, degree=3):
    """The V-statistic (diagonals kept): biased upwards, for checking the test's power."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m, d = x.shape
    k = lambda a, b: (a @ b.T / d + 1.0) ** degree  # noqa: E731
    return k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()


def novelty(train, gen):
    d = np.sqrt(sq_dist(gen, train))  # [M, N]
    radius = np.sort(np.sqrt(sq_dist(train, train)), axis=1)[:, 1]
    nearest = d.argmin(axis=1)
    return {
        "authenticity": (d.min(axis=1) >= radius[nearest]).mean(),
        "memorized_fraction": (d < radius[None, :]).any(axis=1).mean(),
        "nearest_index": nearest,
        "nearest_distance": d.min(axis=1),
    }
