"""Experiment scripts loaded as modules for their tests."""

import importlib.util
import sys

from ..conftest import REPO


def load_script(experiment: str, script: str):
    """``experiments/EXPERIMENT/SCRIPT`` as a module. The scripts import their sibling
    ``config.py`` as ``config`` (and one another), which must not be another experiment's:
    those names and ``sys.path`` are restored afterwards."""
    names = ("config", "run")  # the scripts' imports of their siblings
    saved_modules = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    saved_path = sys.path[:]  # the scripts put their folder in front
    try:
        path = REPO / "experiments" / experiment / script
        spec = importlib.util.spec_from_file_location(f"{experiment}_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved_path
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(saved_modules)
    return module
