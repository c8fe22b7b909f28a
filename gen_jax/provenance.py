"""Provenance of the images gen_jax writes.

Every PNG the toolkit writes goes through :func:`save_png` and carries, as PNG text chunks,
what it shows and where it came from:

- ``gen_jax:content``: ``generated`` (a model's samples, reconstructions, interpolations,
  drawings of generated molecules), ``real`` (data-set examples, such as the most anomalous
  test images), ``mixed`` (samples beside their nearest training images) or ``chart``;
- ``gen_jax:synthetic``: ``true`` when any of the pixels come from a model (generated, mixed);
- ``gen_jax:run``, ``gen_jax:model``, ``gen_jax:step`` and ``gen_jax:config_sha256`` (SHA-256 of
  the run's config, its folder left out so a moved run keeps its digest) when a run made it;
- ``Software`` (``gen_jax VERSION``) and ``Description``, the standard PNG keywords;
- for synthetic images, an XMP packet (``XML:com.adobe.xmp``) with the IPTC digital source
  type ``trainedAlgorithmicMedia`` (``compositeWithTrainedAlgorithmicMedia`` for mixed
  images), the field that IPTC-aware tools and C2PA manifests use for AI-generated media.

Text chunks survive copying but not re-encoding (a screenshot, a JPEG export): they say what
an image is while it stays the file gen_jax wrote, and prove nothing about an edited copy.
:func:`read_provenance` reads them back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .config import to_dict

CONTENTS = ("generated", "real", "mixed", "chart")
"""What an image shows, the values of ``gen_jax:content``."""

_IPTC_SOURCE = {
    "generated": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
    "mixed": "http://cv.iptc.org/newscodes/digitalsourcetype/"
             "compositeWithTrainedAlgorithmicMedia",
}
_XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    Iptc4xmpExt:DigitalSourceType="{source}"
    xmp:CreatorTool="{software}"/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>"""


@dataclasses.dataclass(frozen=True)
class Provenance:
    """What an image shows and which run made it.

    Attributes:
      content: one of :data:`CONTENTS`.
      description: a sentence for the PNG ``Description`` field.
      run: the run's folder.
      model: the run's model family.
      step: the training step of the parameters that made it.
      config_sha256: :func:`config_digest` of the run's config.
    """

    content: str
    description: str = ""
    run: str | None = None
    model: str | None = None
    step: int | None = None
    config_sha256: str | None = None

    def __post_init__(self):
        if self.content not in CONTENTS:
            raise ValueError(f"provenance content must be one of {', '.join(CONTENTS)}, got "
                             f"{self.content!r}")

    @property
    def synthetic(self) -> bool:
        """Whether any of the image's pixels come from a model."""
        return self.content in ("generated", "mixed")

    def text(self) -> dict[str, str]:
        """The PNG text chunks (keyword -> value) this provenance is written as."""
        out = {"Software": _software(),
               "Description": self.description or f"{self.content} image written by gen_jax",
               "gen_jax:content": self.content,
               "gen_jax:synthetic": "true" if self.synthetic else "false"}
        for key in ("run", "model", "step", "config_sha256"):
            value = getattr(self, key)
            if value is not None:
                out[f"gen_jax:{key}"] = str(value)
        return out


def of_run(run: Any, content: str = "generated", description: str = "",
           step: int | None = None) -> Provenance:
    """The provenance of an image made from ``run`` (a :class:`gen_jax.train.Run`): its folder,
    family, step (default: the restored state's) and config digest."""
    if step is None:
        step = int(np.asarray(run.strategy.fetch(run.state.step)))
    return Provenance(content, description, run=str(run.config.train.workdir),
                      model=run.model_name, step=step,
                      config_sha256=config_digest(run.config))


def config_digest(cfg: Any) -> str:
    """SHA-256 of a run's config (an :class:`~gen_jax.config.ExperimentConfig`) as canonical
    JSON, ``train.workdir`` left out: the same settings give the same digest wherever the run
    lives."""
    data = to_dict(cfg)
    data.get("train", {}).pop("workdir", None)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def save_png(image: Any, path: str | Path, provenance: Provenance) -> Path:
    """Writes ``image`` (a uint8 ``[H, W]`` / ``[H, W, 1]`` / ``[H, W, 3]`` array or a PIL
    image) as a PNG file carrying ``provenance``; written beside ``path`` and renamed, so a
    kill never leaves half a file. Returns ``path``."""
    from PIL import Image, PngImagePlugin  # noqa: PLC0415

    if not isinstance(image, Image.Image):
        array = np.asarray(image)
        if array.dtype != np.uint8:
            raise ValueError(f"save_png takes uint8 pixels, got {array.dtype}")
        image = Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[-1] == 1
                                else array)
    info = PngImagePlugin.PngInfo()
    for key, value in provenance.text().items():
        if value.isascii():
            info.add_text(key, value)
        else:  # (tEXt is Latin-1; iTXt holds UTF-8)
            info.add_itxt(key, value)
    if provenance.synthetic:
        info.add_itxt("XML:com.adobe.xmp", _XMP.format(
            source=_IPTC_SOURCE[provenance.content], software=_software()))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    try:
        image.save(tmp, format="PNG", pnginfo=info)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_provenance(path: str | Path) -> dict[str, str]:
    """The text chunks of a PNG file (empty for a PNG without any), including the
    ``gen_jax:*`` keys :func:`save_png` writes."""
    from PIL import Image  # noqa: PLC0415

    with Image.open(path) as image:
        image.load()
        return dict(getattr(image, "text", {}) or {})


def iptc_source_type(text: dict[str, str]) -> str | None:
    """The IPTC digital source type in a PNG's XMP packet (from :func:`read_provenance`)."""
    xmp = text.get("XML:com.adobe.xmp", "")
    marker = 'DigitalSourceType="'
    start = xmp.find(marker)
    return xmp[start + len(marker):xmp.index('"', start + len(marker))] if start >= 0 else None


def _software() -> str:
    from . import __version__  # noqa: PLC0415  (at call time: the package is imported by then)

    return f"gen_jax {__version__}"
