"""Watermarked samples of a trained run, their detection, and the detector's rates after
common image edits."""

from __future__ import annotations

import dataclasses
import io
import weakref
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ... import metrics
from ...evaluation import model_variables
from ...models import NoiseCode
from ...train import Run
from ._tree_ring import Detection, TreeRingKey, detect, embed

BATCH = 256
"""Images mapped to or from noise per compiled call."""


def check_run(run: Run) -> None:
    """Raises a one-line ``ValueError`` when the run cannot carry a noise watermark."""
    if not isinstance(run.model, NoiseCode):
        raise ValueError(f"{run.model_name} does not map samples to and from their noise; "
                         "Tree-Ring watermarks need a flow, diffusion or flow_matching run")
    if len(run.info.shape) != 3:
        raise ValueError(f"{run.info.name!r} is not image data [H, W, C] (shape "
                         f"{tuple(run.info.shape)}); Tree-Ring watermarks are for images")


def key_for(run: Run, key: TreeRingKey) -> TreeRingKey:
    """``key`` after checking that it fits the run's images (one-line ``ValueError``)."""
    check_run(run)
    if tuple(key.shape) != tuple(run.info.shape):
        raise ValueError(f"the key is for {'x'.join(map(str, key.shape))} images, the run makes "
                         f"{'x'.join(map(str, run.info.shape))}; make a key for this run")
    return key


def _batched(fn: Callable, arrays: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """``fn(x, label)`` over rows in compiled batches of :data:`BATCH` (the last one padded)."""
    n = len(arrays)
    size = min(BATCH, n)
    out = []
    for start in range(0, n, size):
        rows = np.minimum(np.arange(start, start + size), n - 1)
        label = None if labels is None else jnp.asarray(labels[rows], jnp.int32)
        out.append(np.asarray(fn(jnp.asarray(arrays[rows]), label))[:min(size, n - start)])
    return np.concatenate(out)


def _labels(run: Run, num: int) -> np.ndarray | None:
    """A conditional run's classes in turn, else None."""
    return np.arange(num, dtype=np.int32) % run.model.num_classes if run.model.num_classes \
        else None


def draw_noise(run: Run, num: int, seed: int) -> np.ndarray:
    """``[num, *shape]`` standard-normal noise from ``seed``."""
    if num < 1:
        raise ValueError(f"--num must be positive, got {num}")
    return np.asarray(jax.random.normal(jax.random.PRNGKey(seed), (num, *run.info.shape)),
                      np.float32)


_MAPS: dict[int, tuple[weakref.ref, tuple[Callable, Callable]]] = {}


def _noise_maps(run: Run) -> tuple[Callable, Callable]:
    """The run's jitted ``(from_noise, to_noise)`` on its EMA parameters, made once per run (a
    robustness measurement inverts images after every edit: one compilation serves them)."""
    ref, maps = _MAPS.get(id(run), (None, None))
    if ref is None or ref() is not run:  # (a Run is unhashable: keyed by id, checked by ref)
        check_run(run)
        variables = model_variables(run)
        maps = (jax.jit(lambda z, label: run.model.from_noise(variables, z, label)),
                jax.jit(lambda x, label: run.model.to_noise(variables, x, label)))
        key = id(run)
        _MAPS[key] = (weakref.ref(run, lambda _: _MAPS.pop(key, None)), maps)
    return maps


def generate(run: Run, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Images ``[N, *shape]`` in ``[0, 1]`` made from ``noise`` by the run's deterministic
    sampler (its EMA parameters)."""
    return _batched(_noise_maps(run)[0], noise, labels)


def watermarked_samples(run: Run, key: TreeRingKey, num: int, seed: int = 0
                        ) -> tuple[np.ndarray, np.ndarray | None]:
    """``num`` samples made from noise that carries ``key``, and their labels (a conditional
    run's classes in turn; None otherwise)."""
    key = key_for(run, key)
    labels = _labels(run, num)
    return generate(run, embed(draw_noise(run, num, seed), key), labels), labels


def recover_noise(run: Run, images: np.ndarray, labels: np.ndarray | None = None
                  ) -> np.ndarray:
    """The noise the run's sampler maps to each image (``to_noise``)."""
    return _batched(_noise_maps(run)[1], np.asarray(images, np.float32), labels)


def detect_images(run: Run, key: TreeRingKey, images: np.ndarray) -> Detection:
    """Tests images ``[N, *shape]`` in ``[0, 1]`` for ``key``'s watermark. A conditional run
    does not know an image's class: its noise is recovered under every class and the smallest
    p-value kept, multiplied by the number of classes (Bonferroni), so the false-positive rate
    still holds."""
    key = key_for(run, key)
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(run.info.shape):
        raise ValueError(f"images of shape {tuple(images.shape[1:])} do not fit the run's "
                         f"{tuple(run.info.shape)}")
    classes = run.model.num_classes
    if not classes:
        return detect(recover_noise(run, images), key)
    tests = [detect(recover_noise(run, images, np.full(len(images), c, np.int32)), key)
             for c in range(classes)]
    best = np.argmin(np.stack([t.log10_p for t in tests]), axis=0)
    pick = lambda name: np.stack([getattr(t, name) for t in tests])[best, np.arange(len(images))]  # noqa: E731
    return Detection(np.minimum(pick("log10_p") + np.log10(classes), 0.0), pick("cosine"),
                     pick("distance"))


# ----- image edits ----------------------------------------------------------------------------

def _pil(image: np.ndarray):
    from PIL import Image  # noqa: PLC0415

    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def _array(pil, channels: int) -> np.ndarray:
    out = np.asarray(pil, np.uint8)
    return out[..., None] if channels == 1 and out.ndim == 2 else out


def _jpeg(quality: int) -> Callable[[np.ndarray], np.ndarray]:
    def edit(image):
        buffer = io.BytesIO()
        _pil(image).save(buffer, format="JPEG", quality=quality)
        from PIL import Image  # noqa: PLC0415

        return _array(Image.open(io.BytesIO(buffer.getvalue())).convert(_pil(image).mode),
                      image.shape[-1])
    return edit


def _resize(factor: float) -> Callable[[np.ndarray], np.ndarray]:
    def edit(image):
        from PIL import Image  # noqa: PLC0415

        h, w = image.shape[:2]
        small = _pil(image).resize((max(1, round(w * factor)), max(1, round(h * factor))),
                                   Image.Resampling.BILINEAR)
        return _array(small.resize((w, h), Image.Resampling.BILINEAR), image.shape[-1])
    return edit


def _crop(fraction: float) -> Callable[[np.ndarray], np.ndarray]:
    def edit(image):
        from PIL import Image  # noqa: PLC0415

        h, w = image.shape[:2]
        ch, cw = max(1, round(h * fraction)), max(1, round(w * fraction))
        top, left = (h - ch) // 2, (w - cw) // 2
        crop = _pil(image).crop((left, top, left + cw, top + ch))
        return _array(crop.resize((w, h), Image.Resampling.BILINEAR), image.shape[-1])
    return edit


def _blur(radius: float) -> Callable[[np.ndarray], np.ndarray]:
    def edit(image):
        from PIL import ImageFilter  # noqa: PLC0415

        return _array(_pil(image).filter(ImageFilter.GaussianBlur(radius)), image.shape[-1])
    return edit


def _noise(std: float) -> Callable[[np.ndarray], np.ndarray]:
    def edit(image):
        rng = np.random.default_rng(np.frombuffer(image.tobytes(), np.uint8))
        noisy = image.astype(np.float64) + rng.normal(scale=255 * std, size=image.shape)
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    return edit


def _unchanged(image: np.ndarray) -> np.ndarray:
    return image


EDITS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": _unchanged,
    "jpeg_75": _jpeg(75),
    "jpeg_50": _jpeg(50),
    "resize_0.5": _resize(0.5),
    "crop_0.75": _crop(0.75),
    "blur_1": _blur(1.0),
    "noise_0.05": _noise(0.05),
}
"""The edits the detector is measured after, each on 8-bit images ``[H, W, C]`` (as saved):
``none`` (8-bit rounding only), JPEG at quality 75 and 50 (Pillow), downscaling to half size
and back (bilinear), a centre crop of 75% of each side scaled back up, Gaussian blur of
radius 1 pixel, Gaussian noise of standard deviation 0.05 of the range (drawn from a seed
made of the image's bytes: the same image gets the same noise)."""


def to_uint8(images: np.ndarray) -> np.ndarray:
    """``[0, 1]`` images as the 8-bit pixels a PNG holds."""
    return np.clip(np.rint(np.asarray(images) * 255.0), 0, 255).astype(np.uint8)


def apply_edit(name: str, images: np.ndarray) -> np.ndarray:
    """:data:`EDITS` ``name`` on ``[N, H, W, C]`` images in ``[0, 1]`` (returned in
    ``[0, 1]``, 8-bit values)."""
    if name not in EDITS:
        raise ValueError(f"unknown edit {name!r}; use one of {', '.join(EDITS)}")
    pixels = to_uint8(images)
    return np.stack([EDITS[name](image) for image in pixels]).astype(np.float32) / 255.0


@dataclasses.dataclass(frozen=True)
class EditResult:
    """The detector after one edit: ``tpr`` / ``fpr`` at the p-value threshold ``alpha``
    (watermarked / clean samples flagged), AUROC and TPR at 1% empirical FPR of the p-values
    (clean samples as negatives), median log10 p of each set."""

    edit: str
    tpr: float
    fpr: float
    auroc: float
    tpr_at_1pct_fpr: float
    median_log10_p_marked: float
    median_log10_p_clean: float


def robustness(run: Run, key: TreeRingKey, num: int, *, seed: int = 0, alpha: float = 0.01,
               edits: tuple[str, ...] = tuple(EDITS)) -> dict[str, Any]:
    """Detection rates of ``num`` watermarked and ``num`` clean samples (other noise seeds)
    after each edit in ``edits`` (:data:`EDITS`), at false-positive rate ``alpha``."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"--alpha must lie in (0, 1), got {alpha}")
    for name in edits:
        if name not in EDITS:
            raise ValueError(f"unknown edit {name!r}; use one of {', '.join(EDITS)}")
    marked, labels = watermarked_samples(run, key, num, seed)
    clean = generate(run, draw_noise(run, num, seed + 1), labels)
    rows = []
    for name in edits:
        found = [detect_images(run, key, apply_edit(name, images)) for images in (marked, clean)]
        scores = -np.r_[found[0].log10_p, found[1].log10_p]
        truth = np.r_[np.ones(num), np.zeros(num)]
        rows.append(EditResult(
            name, float(np.mean(found[0].watermarked(alpha))),
            float(np.mean(found[1].watermarked(alpha))),
            float(metrics.auroc(scores, truth)), float(metrics.tpr_at_fpr(scores, truth, 0.01)),
            float(np.median(found[0].log10_p)), float(np.median(found[1].log10_p))))
    return {"num": num, "alpha": alpha, "seed": seed, "radius": key.radius,
            "inner_radius": key.inner_radius, "channel": key.channel,
            "edits": [dataclasses.asdict(r) for r in rows]}
