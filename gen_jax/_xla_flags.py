"""XLA flags gen_jax needs for correct results on the jaxlib versions it supports.

jaxlib 0.10.2's XLA:CPU fuses reductions into YNNPACK kernels, and that fusion returns wrong
values for some programs, silently (jax-ml/jax#39103: a vmapped matrix-vector product followed
by a reduction over 32,769 float32 rows loses 0.8% of the last row's sum under ``jax.jit``).
Taking ``reduce`` out of the YNN fusion types (``--xla_cpu_experimental_ynn_fusion_type=-reduce``)
gives the right values and keeps YNNPACK's other fusions. XLA reads ``XLA_FLAGS`` once, when
jax creates its first backend, so the flag is added at ``import gen_jax``: before anything has
used jax, it applies to this process and to the processes it starts.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import sys
import warnings

YNN_FUSION_FLAG = "--xla_cpu_experimental_ynn_fusion_type"
WRONG_REDUCE_FUSION = {"0.10.2"}
"""jaxlib versions whose YNN reduce fusion miscompiles (and that know the flag: XLA aborts the
process on a flag it does not know, so it is only ever set for these)."""


def with_host_device_count(flags: str, count: int) -> str:
    """``flags`` (an ``XLA_FLAGS`` value) asking for ``count`` CPU devices, the rest kept."""
    rest = re.sub(r"--xla_force_host_platform_device_count=\S+", "", flags)
    return f"{rest} --xla_force_host_platform_device_count={count}".strip()


def _jaxlib_version() -> str | None:
    try:
        return importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return None


def avoid_wrong_reduce_fusion(environ: dict[str, str] | None = None,
                              version: str | None = None) -> bool:
    """Adds ``--xla_cpu_experimental_ynn_fusion_type=-reduce`` to ``XLA_FLAGS`` where needed.

    Only for a jaxlib in :data:`WRONG_REDUCE_FUSION`, and never over a value the user chose
    (any ``XLA_FLAGS`` that already names the option is left alone). Warns when jax's backends
    already exist, since the flag can then no longer take effect in this process.

    Returns:
      Whether the flag was added.
    """
    environ = os.environ if environ is None else environ
    version = _jaxlib_version() if version is None else version
    flags = environ.get("XLA_FLAGS", "")
    if version not in WRONG_REDUCE_FUSION or YNN_FUSION_FLAG in flags:
        return False
    environ["XLA_FLAGS"] = f"{flags} {YNN_FUSION_FLAG}=-reduce".strip()
    from jax._src import xla_bridge  # noqa: PLC0415

    if xla_bridge.backends_are_initialized():
        warnings.warn(
            f"jaxlib {version}'s XLA:CPU reduce fusion can return wrong results "
            "(jax-ml/jax#39103), and jax was used before gen_jax was imported, so gen_jax's "
            f"fix ({YNN_FUSION_FLAG}=-reduce in XLA_FLAGS) cannot apply to this process: import "
            "gen_jax first, or set that flag in XLA_FLAGS yourself",
            stacklevel=_first_frame_outside("gen_jax", "importlib", "_frozen_importlib"))
    return True


def _first_frame_outside(*packages: str) -> int:
    """The ``stacklevel`` of ``warnings.warn``, called by this function's caller, that names the
    first frame up the stack outside ``packages``: the user's ``import gen_jax``, not the import
    machinery or gen_jax's own modules. ``warnings`` does not count importlib's bootstrap frames
    in a ``stacklevel``, so neither does this."""
    frame, level = sys._getframe(1), 1
    while (frame.f_back is not None
           and frame.f_globals.get("__name__", "").partition(".")[0] in packages):
        frame = frame.f_back
        filename = frame.f_code.co_filename
        level += not ("importlib" in filename and "_bootstrap" in filename)
    return level


avoid_wrong_reduce_fusion()  # at import: gen_jax/__init__.py imports this module first
