"""Second domains for translating MNIST: textured MNIST and scikit-learn's digits at MNIST's size.

* ``textured_mnist`` is built like MNIST-M (Ganin & Lempitsky 2015): each MNIST digit blended
  over a 28x28 patch of a natural colour photo, every pixel the absolute difference of the
  patch and the digit. MNIST-M's patches come from BSDS500; these come from the natural photos
  shipped inside scikit-image's wheel (:data:`PHOTOS`). Image ``i`` of a split takes its photo
  and patch from ``numpy.random.default_rng([seed, stream, i])``, so the set is the same
  wherever it is built, and its labels are MNIST's.
* ``digits28`` is scikit-learn's 8x8 digits (values 0..16) scaled to 20x20 (bilinear) and
  centred in 28x28, as MNIST centres its digits in a 20x20 box: a real shift of handwriting,
  scanner and resolution, the analogue of MNIST <-> USPS.

Both are built in code from the MNIST and digits splits of the same name, like
``stacked_mnist``; nothing else is stored.
"""

from __future__ import annotations

import importlib.util
import os
import zipfile
from pathlib import Path

import numpy as np

from ._errors import DataError

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png")
"""The natural colour photos of scikit-image's ``skimage/data`` that textures are cut from."""
PHOTOS_ENV = "GEN_JAX_PHOTOS"
"""A folder holding :data:`PHOTOS`, or a scikit-image wheel (``pip download --no-deps
scikit-image``); default: the installed scikit-image's data folder."""


def _photo_source() -> Path:
    configured = os.environ.get(PHOTOS_ENV)
    if configured:
        return Path(configured)
    spec = importlib.util.find_spec("skimage")  # found, not imported
    if spec is None or spec.origin is None:
        raise DataError(f"textured_mnist cuts its textures from scikit-image's photos: pip "
                        f"install scikit-image, or set {PHOTOS_ENV} to a scikit-image wheel "
                        "(pip download --no-deps scikit-image) or a folder of "
                        f"{', '.join(PHOTOS)}")
    return Path(spec.origin).parent / "data"


def read_photos(source: str | Path | None = None) -> list[np.ndarray]:
    """The :data:`PHOTOS` as uint8 ``[H, W, 3]`` arrays, from a folder or a scikit-image wheel
    (default: ``$GEN_JAX_PHOTOS``, else the installed scikit-image)."""
    from PIL import Image  # noqa: PLC0415

    source = Path(source) if source is not None else _photo_source()
    out = []
    try:
        if source.suffix == ".whl":
            with zipfile.ZipFile(source) as wheel:
                for name in PHOTOS:
                    with wheel.open(f"skimage/data/{name}") as f, Image.open(f) as image:
                        out.append(np.asarray(image.convert("RGB")))
        else:
            for name in PHOTOS:
                with Image.open(source / name) as image:
                    out.append(np.asarray(image.convert("RGB")))
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise DataError(f"cannot read the textures' photos from {source} ({e}); point "
                        f"{PHOTOS_ENV} at a scikit-image wheel or a folder of "
                        f"{', '.join(PHOTOS)}") from None
    return out


def textured_mnist(x: np.ndarray, photos: list[np.ndarray], seed: int = 0,
                   stream: int = 0) -> np.ndarray:
    """MNIST digits blended over photo patches: ``|patch - digit|`` per pixel and channel.

    Args:
      x: uint8 ``[N, 28, 28, 1]`` MNIST images.
      photos: uint8 ``[H, W, 3]`` photos (:func:`read_photos`), each at least 28x28.
      seed: with ``stream`` and the image's index, fixes its photo and patch.
      stream: independent draws per split (0 train, 1 test).

    Returns:
      uint8 ``[N, 28, 28, 3]``.
    """
    if x.ndim != 4 or x.shape[1:] != (28, 28, 1):
        raise DataError(f"textured_mnist needs MNIST images [N, 28, 28, 1], got {x.shape}")
    out = np.empty((len(x), 28, 28, 3), np.uint8)
    digit = x.astype(np.int16)
    for i in range(len(x)):
        rng = np.random.default_rng([seed, stream, i])
        photo = photos[int(rng.integers(len(photos)))]
        top = int(rng.integers(photo.shape[0] - 27))
        left = int(rng.integers(photo.shape[1] - 27))
        patch = photo[top:top + 28, left:left + 28].astype(np.int16)
        out[i] = np.abs(patch - digit[i]).astype(np.uint8)
    return out


def digits_at_mnist_size(x: np.ndarray) -> np.ndarray:
    """scikit-learn's digits (uint8 ``[N, 8, 8, 1]`` in 0..16) as uint8 ``[N, 28, 28, 1]`` in
    0..255: scaled to 20x20 (bilinear) and centred with a 4-pixel border."""
    from PIL import Image  # noqa: PLC0415

    if x.ndim != 4 or x.shape[1:] != (8, 8, 1):
        raise DataError(f"digits28 needs the 8x8 digits [N, 8, 8, 1], got {x.shape}")
    out = np.zeros((len(x), 28, 28, 1), np.uint8)
    for i, image in enumerate(x[..., 0].astype(np.float32) * (255.0 / 16.0)):
        big = Image.fromarray(image, mode="F").resize((20, 20), Image.Resampling.BILINEAR)
        out[i, 4:24, 4:24, 0] = np.clip(np.rint(np.asarray(big)), 0, 255).astype(np.uint8)
    return out
