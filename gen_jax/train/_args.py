"""An experiment from command-line words: ``MODEL|--config FILE [--section.field VALUE ...]``.

What ``gen-jax train`` parses, shared with the applications that train a run themselves
(``gen-jax anomaly fit``).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from .. import _tyro
from .. import models as gmodels
from ..config import ExperimentConfig, load_config_file


def parse_experiment(argv: list[str], prog: str, *,
                     defaults: dict[str, Any] | None = None) -> tuple[ExperimentConfig, str] | None:
    """``(config, family name)`` from ``argv``; None when only help was asked for (printed).

    Args:
      argv: ``[MODEL] [--config FILE] [overrides]``.
      prog: the command's name in messages (``"gen-jax train"``).
      defaults: section -> field -> value applied before the overrides (an application's own
        defaults, e.g. ``{"data": {"holdout_fraction": 0.1}}``).

    Raises:
      ValueError: an unknown model, a config file of another family, bad overrides (one line).
    """
    model_name = argv[0] if argv and not argv[0].startswith("-") else None
    if model_name is not None:
        argv = argv[1:]
        if model_name not in gmodels.FAMILIES:
            raise ValueError(f"unknown model {model_name!r}; choose one of "
                             f"{', '.join(sorted(gmodels.FAMILIES))}")
    pre = argparse.ArgumentParser(prog=prog, add_help=False)
    pre.add_argument("--config", default=None)
    known, rest = pre.parse_known_args(argv)
    if known.config:
        cfg = load_config_file(known.config)
        name = gmodels.name_of(cfg.model)
        if model_name and model_name != name:
            raise ValueError(f"{known.config} configures {name!r}, not {model_name!r}; drop "
                             "one of them")
    elif model_name:
        name = model_name
        cfg = ExperimentConfig(model=gmodels.FAMILIES[name].config())
    else:
        if "-h" in rest or "--help" in rest:
            print(f"usage: {prog} MODEL|--config FILE [overrides]\n"
                  f"MODEL is one of: {', '.join(sorted(gmodels.FAMILIES))}; "
                  f"`{prog} MODEL --help` lists every override.")
            return None
        raise ValueError(f"name a model ({', '.join(sorted(gmodels.FAMILIES))}) or pass "
                         "--config FILE")
    for section, values in (defaults or {}).items():
        cfg = dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section),
                                                                        **values)})
    cfg = _tyro.parse(ExperimentConfig[type(cfg.model)], rest, f"{prog} {name}", default=cfg)
    return cfg, name
