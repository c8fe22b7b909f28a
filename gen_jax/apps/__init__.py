"""Applications of the toolkit, and the registry of the ``gen-jax`` commands they add.

An application lives in ``gen_jax/apps/<app>/`` (or in a package of your own), uses only the
public API (the family registry, :func:`gen_jax.train.load_run`, the capability protocols) and
adds its sub-command with one :func:`register_command` line: ``gen-jax <name> ARGS`` then calls
its entry point with ``ARGS``, and ``gen-jax --help`` lists it. Entry points are named as
``"module:function"`` and imported only when their command runs, so the command line starts
without loading every application.
"""

from ._registry import COMMANDS as COMMANDS
from ._registry import Command as Command
from ._registry import register_command as register_command
