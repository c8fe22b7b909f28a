"""The training engine: one train state, pure jitted steps, data parallelism, checkpoints, logs."""

from ._checkpoint import Checkpointer as Checkpointer
from ._distributed import initialize_from_env as initialize_from_env
from ._distributed import launch as launch
from ._logging import MetricWriter as MetricWriter
from ._logging import image_grid as image_grid
from ._logging import read_metrics as read_metrics
from ._logging import save_png as save_png
from ._logging import save_samples as save_samples
from ._logging import scatter_image as scatter_image
from ._loop import Evaluator as Evaluator
from ._loop import NonFiniteError as NonFiniteError
from ._loop import Run as Run
from ._loop import build_run as build_run
from ._loop import load_split as load_split
from ._loop import make_preprocess as make_preprocess
from ._loop import train as train
from ._optim import make_optimizer as make_optimizer
from ._optim import make_schedule as make_schedule
from ._parallel import JitStrategy as JitStrategy
from ._parallel import PmapStrategy as PmapStrategy
from ._parallel import make_strategy as make_strategy
from ._state import TrainState as TrainState
from ._step import all_finite as all_finite
from ._step import guarded_update as guarded_update
from ._step import make_eval_step as make_eval_step
from ._step import make_train_step as make_train_step
