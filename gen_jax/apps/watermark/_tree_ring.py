"""The Tree-Ring watermark (Wen et al. 2023, *Tree-Ring Watermarks: Fingerprints for Diffusion
Images that are Invisible and Robust*): a key pattern planted in the Fourier transform of the
initial noise, found again by mapping an image back to its noise.

The key is a set of concentric rings in the 2-D discrete Fourier transform of one channel of
the ``[H, W, C]`` noise: every frequency ``u`` with ``inner <= round(|u|) <= radius`` takes the
real value ``c_round(|u|)``, the ring's (``c_r ~ N(0, H W)``, drawn from the key's secret seed;
``H W`` is what ``|F(u)|^2`` averages for white noise). A real pattern constant on rings is
Hermitian-symmetric, so the watermarked noise stays real and carries the pattern exactly; the
rings' rotational symmetry is what makes it survive image edits.

Detection: with ``y`` the transform of the recovered noise on one half of the mask (the other
half holds the conjugates), the ``2 m`` real and imaginary parts of an unwatermarked image's
``y`` are independent Gaussians of one variance, so their direction is uniform on the sphere
and the cosine ``c`` between ``y`` and the key ``k`` has an exact law whatever that variance:
``(1 + c) / 2 ~ Beta(m - 1/2, m - 1/2)``. The p-value is its upper tail at the observed cosine
(a matched filter). Wen et al. test ``sum |k_i - y_i|^2`` against a noncentral chi-squared law
with the variance estimated from ``y``; that test's null law is only approximate (conservative
here: 0.4% of white-noise draws fell below p = 0.05 on 28x28 noise), the cosine's is exact
(tested). Their L1 distance is reported beside it.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path

import numpy as np
from scipy import stats

KEY_FORMAT = "gen_jax tree-ring key v1"
LOG10_P_FLOOR = -300.0
"""The smallest log10 p-value reported (the exact planted noise has p = 0)."""


@dataclasses.dataclass(frozen=True)
class TreeRingKey:
    """A secret Tree-Ring key for noise of one shape.

    Attributes:
      seed: the secret the ring values are drawn from (keep the key file private: whoever has
        it can detect the watermark, and forge or remove it).
      shape: ``(H, W, C)`` of the noise (the data's shape).
      radius: the outermost ring, in frequency steps (``1 <= radius < min(H, W) / 2``).
      channel: the noise channel that carries the rings.
      inner_radius: the innermost ring (1: every ring from the lowest frequency out). The
        rings fix those frequencies of every sample's noise, and with them what the samples
        share: an annulus away from the lowest frequencies costs less diversity where images
        have few channels, and is found less reliably after blurring.
    """

    seed: int
    shape: tuple[int, int, int]
    radius: int
    channel: int = 0
    inner_radius: int = 1

    def __post_init__(self):
        shape = tuple(int(v) for v in self.shape)
        object.__setattr__(self, "shape", shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"a Tree-Ring key needs image noise [H, W, C], got shape {shape}")
        h, w, c = shape
        if not 1 <= self.radius < min(h, w) / 2:
            raise ValueError(f"watermark radius {self.radius} must lie in 1..{(min(h, w) - 1) // 2}"
                             f" for {h}x{w} images")
        if not 0 <= self.channel < c:
            raise ValueError(f"watermark channel {self.channel} must lie in 0..{c - 1}")
        if not 1 <= self.inner_radius <= self.radius:
            raise ValueError(f"watermark inner radius {self.inner_radius} must lie in "
                             f"1..{self.radius} (the radius)")

    @classmethod
    def generate(cls, shape: tuple[int, ...], radius: int | None = None,
                 channel: int = 0, inner_radius: int | None = None) -> TreeRingKey:
        """A new key with a random secret seed. By default the rings are an annulus: the outer
        radius about 0.36 of the smaller side (10 for 28x28 images), the inner half of it (5).
        Rings from the lowest frequency out fix the coarse shape of every sample: on MNIST
        models rings 1..7 made every sample the same digit (``experiments/watermark_mnist``),
        rings 5..10 cost no measurable diversity."""
        if len(shape) != 3:
            raise ValueError(f"a Tree-Ring key needs image data [H, W, C], got shape "
                             f"{tuple(shape)}")
        side = min(shape[:2])
        radius = radius or min(max(1, (side - 1) // 2), max(1, round(0.36 * side)))
        inner = inner_radius or max(1, radius // 2)
        return cls(secrets.randbits(63), tuple(shape), radius, channel, inner)

    def rings(self) -> np.ndarray:
        """``[H, W]`` int: the ring of every frequency of the unshifted transform (0 outside)."""
        h, w, _ = self.shape
        fy = np.fft.fftfreq(h) * h
        fx = np.fft.fftfreq(w) * w
        ring = np.rint(np.hypot(fy[:, None], fx[None, :])).astype(int)
        inside = (ring >= self.inner_radius) & (ring <= self.radius)
        return np.where(inside, ring, 0)

    def pattern(self) -> np.ndarray:
        """``[H, W]`` float64: ``c_r`` on ring ``r``, 0 outside the mask."""
        h, w, _ = self.shape
        values = np.random.default_rng(self.seed).normal(size=self.radius) * np.sqrt(h * w)
        ring = self.rings()
        return np.where(ring > 0, values[np.maximum(ring, 1) - 1], 0.0)

    def half_mask(self) -> np.ndarray:
        """``[H, W]`` bool: the masked frequencies with independent transforms (one of each
        conjugate pair ``u``, ``-u``)."""
        h, w, _ = self.shape
        fy = (np.fft.fftfreq(h) * h)[:, None]
        fx = (np.fft.fftfreq(w) * w)[None, :]
        upper = (fy > 0) | ((fy == 0) & (fx > 0))
        return (self.rings() > 0) & upper

    def save(self, path: str | Path) -> Path:
        """Writes the key as JSON (readable by :meth:`load`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"format": KEY_FORMAT, **dataclasses.asdict(self)}
        path.write_text(json.dumps(record, indent=2) + "\n")
        path.chmod(0o600)
        return path

    @classmethod
    def load(cls, path: str | Path) -> TreeRingKey:
        """Reads a key written by :meth:`save`.

        Raises:
          ValueError: a missing file or one that is not a key (one line).
        """
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"no watermark key at {path}; make one with gen-jax watermark key")
        try:
            record = json.loads(path.read_text())
            if record.pop("format") != KEY_FORMAT:
                raise KeyError("format")
            return cls(int(record["seed"]), tuple(record["shape"]), int(record["radius"]),
                       int(record["channel"]), int(record.get("inner_radius", 1)))
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path} is not a gen_jax watermark key ({type(e).__name__}: {e})"
                             ) from None


def _check_noise(noise: np.ndarray, key: TreeRingKey) -> np.ndarray:
    noise = np.asarray(noise)
    if noise.ndim != 4 or tuple(noise.shape[1:]) != key.shape:
        raise ValueError(f"noise of shape {tuple(noise.shape)} does not fit a key for "
                         f"[N, {', '.join(map(str, key.shape))}] noise")
    return noise


def embed(noise: np.ndarray, key: TreeRingKey) -> np.ndarray:
    """``noise`` ``[N, H, W, C]`` with the key's rings planted in its channel's transform
    (every other value and channel unchanged in the transform); float32."""
    noise = _check_noise(noise, key).astype(np.float64)
    spectrum = np.fft.fft2(noise[..., key.channel], axes=(1, 2))
    spectrum = np.where(key.rings() > 0, key.pattern(), spectrum)
    out = noise.copy()
    out[..., key.channel] = np.real(np.fft.ifft2(spectrum, axes=(1, 2)))
    return out.astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Detection:
    """The test of each recovered noise against a key.

    Attributes:
      log10_p: ``[N]`` log10 of the p-value (the probability that an image without the
        watermark comes this close to the key), floored at :data:`LOG10_P_FLOOR`; below
        ``log10(alpha)`` means watermarked at false-positive rate ``alpha``.
      cosine: ``[N]`` the cosine between the recovered transform and the key (1: the planted
        noise itself; near 0 without the watermark).
      distance: ``[N]`` mean ``|k_i - y_i|`` over the mask relative to ``sqrt(H W)``, Wen et
        al.'s L1 score (0 for the planted noise itself).
    """

    log10_p: np.ndarray
    cosine: np.ndarray
    distance: np.ndarray

    def watermarked(self, alpha: float) -> np.ndarray:
        """``[N]`` bool: p-value below ``alpha``."""
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"the false-positive rate must lie in (0, 1), got {alpha}")
        return self.log10_p < np.log10(alpha)


def detect(noise: np.ndarray, key: TreeRingKey) -> Detection:
    """Tests recovered noise ``[N, H, W, C]`` for the key's rings (the module's statistics)."""
    noise = _check_noise(noise, key).astype(np.float64)
    half = key.half_mask()
    y = np.fft.fft2(noise[..., key.channel], axes=(1, 2))[:, half]
    k = key.pattern()[half]
    norms = np.linalg.norm(y, axis=1) * np.linalg.norm(k)
    cosine = np.real(y @ np.conj(k)) / np.maximum(norms, 1e-300)
    a = half.sum() - 0.5
    log_p = stats.beta.logsf((1.0 + np.clip(cosine, -1.0, 1.0)) / 2.0, a, a)
    h, w, _ = key.shape
    distance = np.mean(np.abs(k[None] - y), axis=1) / np.sqrt(h * w)
    return Detection(np.maximum(log_p / np.log(10.0), LOG10_P_FLOOR), cosine, distance)
