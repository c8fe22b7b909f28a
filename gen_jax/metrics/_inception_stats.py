"""Inception feature statistics of image sets: folders, arrays and data sets, with real data's
features computed once and cached.

Statistics files are ``.npz`` with ``mu`` ``[2048]`` and ``sigma`` ``[2048, 2048]`` (the keys
pytorch-fid and TF-FID use, so their files and ours read both ways) and a JSON ``record``
(what was measured, how, with which weights).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .._files import write_atomic_with
from ._frechet import FeatureStatistics, feature_statistics
from ._inception import InceptionFeatures
from ._inception_weights import cache_dir

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def save_statistics(path: str | Path, stats: FeatureStatistics, record: dict[str, Any]) -> None:
    """Writes ``mu``, ``sigma`` and the JSON ``record`` to ``path`` (atomically)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"statistics files end in .npz, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic_with(path, lambda tmp: np.savez(
        tmp, mu=np.asarray(stats.mean, np.float64), sigma=np.asarray(stats.cov, np.float64),
        record=np.array(json.dumps(record))))


def load_statistics(path: str | Path) -> tuple[FeatureStatistics, dict[str, Any]]:
    """``(statistics, record)`` of a ``.npz`` with ``mu`` and ``sigma`` (ours, pytorch-fid's or
    TF-FID's; a file without a record gets an empty one)."""
    with np.load(path, allow_pickle=False) as f:
        if "mu" not in f.files or "sigma" not in f.files:
            raise ValueError(f"{path} has no mu and sigma arrays; a statistics file holds the "
                             "mean and covariance of Inception features (gen-jax fid --save-stats)")
        record = json.loads(str(f["record"])) if "record" in f.files else {}
        return FeatureStatistics(f["mu"], f["sigma"]), record


def folder_images(folder: str | Path) -> list[Path]:
    """The image files under ``folder`` (recursively, sorted)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder at {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def folder_features(extractor: InceptionFeatures, folder: str | Path, *,
                    chunk: int = 500) -> np.ndarray:
    """``[N, 2048]`` features of every image under ``folder``, read ``chunk`` at a time as RGB
    (as pytorch-fid and clean-fid read them). All images must share one size."""
    files = folder_images(folder)
    first = Image.open(files[0]).size
    out = []
    for start in range(0, len(files), chunk):
        batch = []
        for path in files[start:start + chunk]:
            with Image.open(path) as image:
                if image.size != first:
                    raise ValueError(f"{path} is {image.size[0]}x{image.size[1]}, {files[0]} is "
                                     f"{first[0]}x{first[1]}: the images of a folder must share "
                                     "one size; resize them first")
                batch.append(np.asarray(image.convert("RGB"), np.uint8))
        out.append(extractor.features(np.stack(batch).astype(np.float32) / 255.0))
    return np.concatenate(out)


def statistics_of(extractor: InceptionFeatures, source: str | Path) -> tuple[
        FeatureStatistics, dict[str, Any]]:
    """``(statistics, record)`` of a folder of images or a statistics ``.npz``."""
    source = Path(source)
    if source.suffix == ".npz" and source.is_file():
        return load_statistics(source)
    features = folder_features(extractor, source)
    return feature_statistics(features), {"source": str(source), "num": len(features),
                                          "inception": extractor.record}


def _inception_key(extractor: InceptionFeatures) -> str:
    record = extractor.record
    return (f"{record['resize']}-q{int(record['quantize'])}-"
            f"{str(record.get('sha256', 'unknown'))[:12]}")


def cached_features(extractor: InceptionFeatures, images: np.ndarray, *,
                    cache: bool = True) -> np.ndarray:
    """``extractor.features(images)``, kept in ``cache_dir()/inception_features`` under the
    sha256 of the images and everything that changes the features (resize, quantization,
    weights): real data sets are scored once, not at every evaluation.

    Args:
      extractor: :func:`load_inception`'s extractor.
      images: ``[N, H, W, C]`` in ``[0, 1]``.
      cache: read and write the cache (False: compute).
    """
    images = np.ascontiguousarray(images, np.float32)
    digest = hashlib.sha256(repr(images.shape).encode())
    digest.update(memoryview(images).cast("B"))
    path = (cache_dir() / "inception_features"
            / f"{digest.hexdigest()[:24]}-{_inception_key(extractor)}.npy")
    if cache and path.is_file():
        return np.load(path)
    features = extractor.features(images)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic_with(path, lambda tmp: np.save(tmp, features))
    return features


def dataset_statistics(extractor: InceptionFeatures, name: str, split: str, *,
                       num: int | None = None, data_dir: str | None = None,
                       tfds_dir: str | None = None, cache: bool = True) -> tuple[
        FeatureStatistics, dict[str, Any]]:
    """``(statistics, record)`` of the Inception features of a built-in data set's split,
    its features computed once and cached (:func:`cached_features`).

    Args:
      extractor: :func:`load_inception`'s extractor.
      name: a data set of :func:`gen_jax.data.available` with images.
      split: its split.
      num: the first ``num`` images (default: all).
      data_dir: raw data folder (see :func:`gen_jax.data.load`).
      tfds_dir: prepared TFDS folder.
      cache: read and write the cache.
    """
    from ..data import load  # noqa: PLC0415
    from ._features import dataset_images  # noqa: PLC0415

    dataset = load(name, split, data_dir=data_dir, tfds_dir=tfds_dir, size=num)
    if dataset.x.ndim != 4:
        raise ValueError(f"{name} is not an image data set; Inception features need images")
    features = cached_features(extractor, dataset_images(dataset), cache=cache)
    record = {"dataset": name, "split": split, "num": len(features),
              "inception": {k: v for k, v in extractor.record.items() if k != "path"}}
    return feature_statistics(features), record
