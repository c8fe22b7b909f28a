"""``python -m gen_jax`` is the ``gen-jax`` command."""

import sys

from .cli import main

sys.exit(main())
