"""gen_jax: generative modeling in JAX.

Autoencoders, VAEs, GANs and normalizing flows behind one functional API; jit-compiled,
data-parallel training with exact resume; and the evaluation that tells whether a model is good.

Subpackages:
  gen_jax.data     data sets (TFDS builders that read local raw files offline), input pipeline
  gen_jax.nn       networks (MLP, convolutional encoders and decoders, MADE)
  gen_jax.bijectors  normalizing-flow layers (distrax bijectors): couplings, splines, MAF/IAF, Glow
  gen_jax.models   model families, each a Flax module plus pure loss and sample functions
  gen_jax.train    train state, jitted steps, sharding, checkpoints, logging, the training loop
  gen_jax.metrics  likelihood and sample-quality metrics
"""

# First: XLA flags must be set before jax creates its backends (see _xla_flags).
from . import _xla_flags as _xla_flags
from . import config as config
from . import data as data
from . import metrics as metrics
from . import models as models
from . import nn as nn
from . import train as train
from .config import DataConfig as DataConfig
from .config import ExperimentConfig as ExperimentConfig
from .config import OptimConfig as OptimConfig
from .config import TrainConfig as TrainConfig

__version__ = "0.1.0"


def __getattr__(name: str):
    # gen_jax.bijectors imports distrax and TFP (0.7 s): loaded on first use, so the commands
    # and families that need no flow start without them.
    if name == "bijectors":
        import importlib  # noqa: PLC0415

        return importlib.import_module(".bijectors", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # The lazy name too, so that dir() and tab completion show it before its first use.
    return sorted({*globals(), "bijectors"})
