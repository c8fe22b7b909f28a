"""Run outputs: metrics as JSON lines and TensorBoard events, a progress bar, sample images.

Only process 0 writes; on other processes every writer is a no-op.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from .._files import write_atomic
from ..data import DatasetInfo
from ..provenance import Provenance
from ..provenance import save_png as provenance_png
from ._trackers import make_trackers


class MetricWriter:
    """Writes scalar metrics to ``metrics.jsonl`` and TensorBoard event files in ``workdir``,
    and to the experiment ``trackers`` named (:mod:`gen_jax.train._trackers`; ``config`` is
    what they record of the run).

    A resumed run passes ``resume_step``: records after it (written by the interrupted run after
    its last checkpoint) are dropped from both logs, so their steps read as one uninterrupted
    run; a run that starts over (``resume_step`` 0) starts both logs afresh. The first training
    record after a resume averages the steps since the checkpoint (its ``steps`` says how many),
    not a whole ``log_every`` window.
    """

    def __init__(self, workdir: str | Path, *, resume_step: int = 0,
                 enabled: bool | None = None, trackers: tuple[str, ...] = (),
                 config: dict[str, Any] | None = None):
        self.enabled = jax.process_index() == 0 if enabled is None else enabled
        self.workdir = Path(workdir)
        self._jsonl = None
        self._tb = None
        self._trackers: list = []
        if self.enabled:
            from tensorboardX import SummaryWriter

            self.workdir.mkdir(parents=True, exist_ok=True)
            path = self.workdir / "metrics.jsonl"
            if path.exists():
                kept = [r for r in path.read_text().splitlines()
                        if r.strip() and json.loads(r)["step"] <= resume_step]
                write_atomic(path, "".join(r + "\n" for r in kept))
            self._jsonl = open(path, "a")
            events = self.workdir / "tensorboard"
            if not resume_step:  # a run killed before its first checkpoint starts over
                for old in events.glob("events.out.tfevents.*"):
                    old.unlink()
            self._tb = SummaryWriter(str(events),
                                     purge_step=resume_step + 1 if resume_step else None)
            self._trackers = make_trackers(trackers, self.workdir, config or {})

    def write(self, step: int, metrics: dict[str, Any], *, prefix: str = "") -> None:
        """Records scalar ``metrics`` at ``step`` (names get ``prefix``, e.g. ``"eval/"``)."""
        if not self.enabled:
            return
        scalars = {f"{prefix}{k}": float(v) for k, v in metrics.items()}
        self._jsonl.write(json.dumps({"step": int(step), "time": time.time(), **scalars}) + "\n")
        self._jsonl.flush()
        for k, v in scalars.items():
            self._tb.add_scalar(k, v, int(step))
        self._tb.flush()
        for tracker in self._trackers:
            tracker.log(int(step), scalars)

    def close(self) -> None:
        if self.enabled and not self._jsonl.closed:
            self._jsonl.close()
            self._tb.close()
            for tracker in self._trackers:
                tracker.close()

    def __enter__(self) -> MetricWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_metrics(workdir: str | Path) -> list[dict[str, Any]]:
    """The records of ``metrics.jsonl`` in ``workdir``."""
    path = Path(workdir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Progress:
    """A tqdm progress bar over steps: moves every step, shows the step rate, the ETA, the
    latest finished step's loss, and what the run is doing while no step moves ("compiling").

    Args:
      total: the last step.
      initial: the step the bar starts from (a resumed run).
      enabled: draw it (only process 0 ever does).
      min_interval: seconds between two refreshes of the shown values (the bar's own drawing
        is throttled by tqdm); callers ask :meth:`due` before fetching a value to show.
    """

    def __init__(self, total: int, initial: int = 0, *, enabled: bool = True,
                 min_interval: float = 0.5):
        self._bar = None
        self._interval, self._shown = min_interval, -math.inf
        if enabled and jax.process_index() == 0:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)

    def update(self, n: int, **postfix: float) -> None:
        """Moves the bar ``n`` steps; ``postfix`` values (e.g. ``loss=``) are shown beside it."""
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self.show(**postfix)

    def due(self) -> bool:
        """Whether a new value would be shown now (False when the bar is off)."""
        return self._bar is not None and time.monotonic() - self._shown >= self._interval

    def show(self, **postfix: float) -> None:
        """Shows ``postfix`` values beside the bar."""
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)
            self._shown = time.monotonic()

    def phase(self, text: str) -> None:
        """Names what the run is doing before the bar moves (``""``: nothing), drawn at once."""
        if self._bar is not None:
            self._bar.set_description_str(text, refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def image_grid(images: np.ndarray, *, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tiles ``[N, H, W, C]`` images with values in [0, 1] into one uint8 ``[H', W', C]`` grid."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"image_grid takes [N, H, W, C] images, got shape {images.shape}")
    n, h, w, c = images.shape
    ncols = ncols or int(math.ceil(math.sqrt(n)))
    nrows = int(math.ceil(n / ncols))
    grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), np.float32)
    for i in range(n):
        r, col = divmod(i, ncols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h,
             pad + col * (w + pad): pad + col * (w + pad) + w] = images[i]
    return np.round(np.clip(grid, 0.0, 1.0) * 255).astype(np.uint8)


def scatter_image(points: np.ndarray, *, size: int = 256,
                  extent: float | None = None) -> np.ndarray:
    """A 2-D point cloud ``[N, 2]`` rendered as a uint8 ``[size, size, 1]`` density image."""
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"scatter_image takes [N, 2] points, got shape {points.shape}")
    lim = extent or float(np.max(np.abs(points[np.isfinite(points)]), initial=1.0)) * 1.05
    hist, _, _ = np.histogram2d(points[:, 1], points[:, 0], bins=size, range=[[-lim, lim]] * 2)
    img = 1.0 - np.log1p(hist[::-1]) / max(np.log1p(hist.max()), 1e-9)
    return np.round(img * 255).astype(np.uint8)[..., None]


def save_png(array: np.ndarray, path: str | Path, provenance: Provenance) -> Path:
    """Writes a uint8 ``[H, W, C]`` (C = 1 or 3) array as a PNG file carrying ``provenance``
    (:mod:`gen_jax.provenance`: what it shows, the run, step and config digest)."""
    return provenance_png(np.asarray(array), path, provenance)


def pairs_image(points: np.ndarray, *, size: int = 128, max_dims: int = 4) -> np.ndarray:
    """Vectors ``[N, D]`` drawn as density images of their leading dimensions side by side:
    every pair of the first ``max_dims`` (one feature: its histogram), each plot ``size``
    pixels, 4 white pixels apart; a uint8 ``[size, W, 1]`` image."""
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] < 1:
        raise ValueError(f"pairs_image takes [N, D] vectors, got shape {points.shape}")
    dims = min(points.shape[1], max_dims)
    if dims == 1:
        finite = points[np.isfinite(points[:, 0]), 0]
        hist, _ = np.histogram(finite, bins=size)
        heights = np.round(hist / max(hist.max(), 1) * (size - 1)).astype(int)
        img = np.full((size, size), 255, np.uint8)
        for col, h in enumerate(heights):
            img[size - h:, col] = 0
        return img[..., None]
    gap = np.full((size, 4, 1), 255, np.uint8)
    plots = []
    for i in range(dims):
        for j in range(i + 1, dims):
            plots += [scatter_image(points[:, [i, j]], size=size), gap]
    return np.concatenate(plots[:-1], axis=1)


def decode_sequences(samples: np.ndarray, info: DatasetInfo) -> list[str]:
    """The strings of token-sequence samples (values ``id / (levels - 1)``, as models return
    discrete data) in ``info``'s vocabulary."""
    ids = np.rint(np.asarray(samples, np.float64) * (info.num_levels - 1)).astype(np.int64)
    ids = np.clip(ids, 0, info.num_levels - 1).reshape(len(ids), -1)
    out = []
    for row in ids.tolist():
        end = row.index(2) if 2 in row else len(row)  # <eos>
        out.append("".join(info.vocabulary[i] for i in row[:end] if i > 2))
    return out


def save_samples(samples: np.ndarray, path: str | Path, info: DatasetInfo | None = None, *,
                 provenance: Provenance) -> Path:
    """Saves model samples as a PNG carrying ``provenance``: an image grid, a density plot for
    2-D points, or the pairwise density plots of the leading dimensions for other vectors
    (:func:`pairs_image`). Token sequences (``info.vocabulary`` set) are written as text
    instead, one decoded string per line, to ``path`` with the suffix ``.txt``; the path
    written is returned."""
    samples = np.asarray(samples)
    if info is not None and info.vocabulary is not None:
        path = Path(path).with_suffix(".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, "".join(f"{s}\n" for s in decode_sequences(samples, info)))
        return path
    if samples.ndim == 2 and samples.shape[1] == 2:
        return save_png(scatter_image(samples), path, provenance)
    if samples.ndim == 2:
        return save_png(pairs_image(samples), path, provenance)
    if samples.ndim == 4:
        factor = max(1, 28 // samples.shape[1])  # small images (8x8 digits) drawn larger
        grid = image_grid(samples)
        return save_png(grid.repeat(factor, axis=0).repeat(factor, axis=1), path,
                        provenance)
    raise ValueError(f"cannot draw samples of shape {samples.shape}; expected [N, H, W, C] images "
                     "or [N, 2] points")
