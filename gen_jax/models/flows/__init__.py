"""Normalizing flows (RealNVP, neural spline flows, MAF/IAF, Glow) from distrax bijectors.

The configs load at once; :class:`Flow` and :func:`build` import distrax and TFP (0.7 s), so
they load on first use and the other families start without them.
"""

from ._config import FLOW_CONFIGS as FLOW_CONFIGS
from ._config import FlowConfig as FlowConfig
from ._config import GlowConfig as GlowConfig
from ._config import MAFConfig as MAFConfig
from ._config import NSFConfig as NSFConfig
from ._config import RealNVPConfig as RealNVPConfig

_LAZY = ("Flow", "build")


def __getattr__(name: str):
    if name in _LAZY:
        from . import _model  # noqa: PLC0415

        return getattr(_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
