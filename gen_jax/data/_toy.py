"""Two-dimensional toy distributions, generated in code: ring8, ring8_r1, grid25, two_moons,
checkerboard.

All return float32 ``[N, 2]`` points and are deterministic given ``(seed, size)``. The mode-collapse
sets (``ring8``, ``ring8_r1``, ``grid25``) expose their mode centres and standard deviation through
:func:`toy_modes` so that a sampler can be scored by how many modes it covers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._errors import DataError

RING8_RADIUS = 2.0
RING8_R1_RADIUS = 1.0  # PacGAN's 2-D ring (Lin et al. 2018, its code's 2DRing config)
RING8_STD = 0.01
GRID25_STD = 0.05
TWO_MOONS_NOISE = 0.1  # FFJORD (lib/toy_data.py: make_moons(noise=0.1))


def _ring8_centers(radius: float = RING8_RADIUS) -> np.ndarray:
    angles = 2 * np.pi * np.arange(8) / 8
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def _grid25_centers() -> np.ndarray:
    axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    return (
        np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(25, 2).astype(np.float32)
    )


_MODES: dict[str, tuple[Callable[[], np.ndarray], float]] = {
    "ring8": (_ring8_centers, RING8_STD),
    "ring8_r1": (lambda: _ring8_centers(RING8_R1_RADIUS), RING8_STD),
    "grid25": (_grid25_centers, GRID25_STD),
}


def toy_modes(name: str) -> tuple[np.ndarray, float]:
    """Returns the mode centres and per-coordinate standard deviation of a Gaussian-mixture toy set.

    Args:
      name: ``"ring8"`` (8 modes on a circle of radius 2, std 0.01), ``"ring8_r1"`` (the same
        on a circle of radius 1: PacGAN's 2-D ring) or ``"grid25"`` (modes at
        ``{-4, -2, 0, 2, 4}^2``, std 0.05). Centre ``i`` is the mode whose label is ``i``.

    Returns:
      ``(centers, std)``: float32 ``[M, 2]`` and a float.

    Raises:
      DataError: ``name`` is not a Gaussian-mixture toy set.
    """
    if name not in _MODES:
        raise DataError(f"toy set {name!r} has no modes: use one of {', '.join(_MODES)}")
    centers, std = _MODES[name]
    return centers(), std


def _mixture(name: str, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draws from an equal-weight isotropic Gaussian mixture; labels are the mode indices."""
    centers, std = toy_modes(name)
    mode = rng.integers(len(centers), size=size)
    x = centers[mode] + std * rng.standard_normal((size, 2))
    return x.astype(np.float32), mode.astype(np.int32)


def _two_moons(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's two moons, noise 0.1, mapped by ``2x + (-1, -0.2)`` as in FFJORD's toy sets.

    The points then lie in about ``[-3.7, 3.7] x [-1.9, 2.6]`` (mean about ``(0, 0.3)``); label 0
    is the upper moon, 1 the lower one.
    """
    import sklearn.datasets  # noqa: PLC0415 -- slow to import; only needed here

    x, moon = sklearn.datasets.make_moons(
        n_samples=size, noise=TWO_MOONS_NOISE, random_state=int(rng.integers(2**31))
    )
    x = 2.0 * x + np.array([-1.0, -0.2])
    return x.astype(np.float32), moon.astype(np.int32)


def _checkerboard(size: int, rng: np.random.Generator) -> tuple[np.ndarray, None]:
    """FFJORD's (and NSF's) checkerboard: uniform on 8 of the 16 2x2 squares of ``[-4, 4]^2``."""
    x1 = rng.uniform(0.0, 1.0, size) * 4 - 2
    x2 = rng.uniform(0.0, 1.0, size) - rng.integers(0, 2, size) * 2
    x2 = x2 + np.floor(x1) % 2
    return (2.0 * np.stack([x1, x2], axis=1)).astype(np.float32), None


TOY_NUM_CLASSES = {"ring8": 8, "ring8_r1": 8, "grid25": 25, "two_moons": 2, "checkerboard": 0}


def sample_toy(
    name: str, size: int, seed: int, stream: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Draws ``size`` points of toy set ``name``.

    Args:
      name: a key of :data:`TOY_NUM_CLASSES`.
      size: number of points.
      seed: seed; together with ``stream`` it fixes the points exactly.
      stream: independent stream per split (``0`` train, ``1`` test), so that the test points are
        not a prefix of, nor correlated with, the training points.

    Returns:
      ``(x, label)``: float32 ``[size, 2]`` and int32 ``[size]`` (None for ``checkerboard``).
    """
    rng = np.random.default_rng([seed, stream])
    if name in _MODES:
        return _mixture(name, size, rng)
    if name == "two_moons":
        return _two_moons(size, rng)
    if name == "checkerboard":
        return _checkerboard(size, rng)
    raise DataError(f"unknown toy set {name!r}: use one of {', '.join(TOY_NUM_CLASSES)}")
