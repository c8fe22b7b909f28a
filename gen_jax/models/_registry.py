"""The model registry: family name -> (config class, builder)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from ..data._types import DatasetInfo
from . import _autoencoder, _gan, _vae
from ._base import GenerativeModel
from ._flow_config import FLOW_CONFIGS

Builder = Callable[..., GenerativeModel]
"""``build(config, info, *, dtype=jnp.float32) -> GenerativeModel``."""


def _flow_builder(family: str) -> Builder:
    def build(config: Any, info: DatasetInfo, *, dtype: Any = jnp.float32) -> GenerativeModel:
        # The flows need distrax and TFP (0.7 s to import): loaded when a flow is built.
        from . import _flow  # noqa: PLC0415

        return _flow.Flow(family, config, info, dtype=dtype)

    build.__doc__ = f"The {family} flow for ``info``'s data."
    return build


MODELS: dict[str, tuple[type, Builder]] = {
    "ae": (_autoencoder.AutoencoderConfig, _autoencoder.build),
    "vae": (_vae.VAEConfig, _vae.build),
    "gan": (_gan.GANConfig, _gan.build),
    **{name: (cls, _flow_builder(name)) for name, cls in FLOW_CONFIGS.items()},
}
"""Family name -> (config class, builder). Other families add themselves here."""


def build(
    name: str, config: Any, info: DatasetInfo, *, dtype: Any = jnp.float32
) -> GenerativeModel:
    """The family ``name`` built from ``config`` for ``info``'s data.

    Raises:
      ValueError: unknown family, a config of another family, or a config that does not fit
        the data.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}")
    config_cls, builder = MODELS[name]
    if type(config) is not config_cls:
        raise ValueError(f"model {name!r} takes a {config_cls.__name__}, got "
                         f"{type(config).__name__}")
    return builder(config, info, dtype=dtype)


def name_of(config: Any) -> str:
    """The registry name of the family whose config class ``config`` is an instance of.

    Raises:
      ValueError: no registered family uses this config class.
    """
    for name, (config_cls, _) in MODELS.items():
        if type(config) is config_cls:
            return name
    raise ValueError(f"no registered model takes a {type(config).__name__}; registered: "
                     f"{', '.join(sorted(MODELS))}")
