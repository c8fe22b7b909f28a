"""Stacked MNIST (Metz et al. 2017; VEEGAN; PacGAN): three MNIST digits as the channels of one
28x28x3 image, 1,000 modes (the 3-digit number ``100 * d0 + 10 * d1 + d2``).

:func:`stacked_mnist` builds the set from the MNIST arrays deterministically, so that the
registry serves it as ``stacked_mnist`` (``gen_jax.data.load("stacked_mnist", split)``) without
storing another file.
"""

from __future__ import annotations

import numpy as np

from ._errors import DataError

NUM_MODES = 1000


def stacked_mnist(
    x: np.ndarray, label: np.ndarray, size: int, seed: int = 0, stream: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Draws ``size`` stacked images from an MNIST split, each channel an independent digit.

    Args:
      x: uint8 ``[N, 28, 28, 1]`` MNIST images (the train split for training data).
      label: int ``[N]`` their digits.
      size: number of stacked images.
      seed: together with ``stream`` fixes the draw exactly.
      stream: independent stream per split (0 train, 1 test).

    Returns:
      ``(x, label)``: uint8 ``[size, 28, 28, 3]`` (channel ``c`` is MNIST image ``idx[:, c]``) and
      int32 ``[size]`` modes ``100 * d0 + 10 * d1 + d2``.

    Raises:
      DataError: shapes that are not MNIST's, or a non-positive size.
    """
    if x.ndim != 4 or x.shape[1:] != (28, 28, 1) or len(label) != len(x):
        raise DataError(f"stacked_mnist needs MNIST images [N, 28, 28, 1] with N labels, got "
                        f"{x.shape} and {len(label)} labels")
    if size <= 0:
        raise DataError(f"size={size} for stacked_mnist: pass a positive number of images")
    rng = np.random.default_rng([seed, stream, 3])
    idx = rng.integers(0, len(x), size=(size, 3))
    stacked = np.concatenate([x[idx[:, c]] for c in range(3)], axis=-1)
    digits = np.asarray(label, np.int64)[idx]
    modes = 100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2]
    return stacked.astype(np.uint8), modes.astype(np.int32)
