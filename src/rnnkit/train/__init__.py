"""Training: a generic loop with exact resume, atomic checkpoints and DistributedDataParallel.

``Trainer(model, task, TrainConfig(...)).fit()`` trains any model for which a small ``Task``
says how to compute one step's loss and how to evaluate; see ``trainer.py``. Bad user input
raises ``RnnkitError`` (the CLI prints it as one line and exits with status 2).
"""

from ..errors import CheckpointError, RnnkitError
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig, opt
from .distributed import DistEnv, init_distributed
from .history import MetricsLog, plot_curves
from .optim import build_optimizer, build_scheduler, lr_factor
from .recipe import check_backend
from .trainer import BEST, LAST, StepResult, Task, Trainer, map_carry

__all__ = [
    "BEST",
    "LAST",
    "CheckpointError",
    "DistEnv",
    "MetricsLog",
    "RnnkitError",
    "StepResult",
    "Task",
    "TrainConfig",
    "Trainer",
    "build_optimizer",
    "build_scheduler",
    "check_backend",
    "init_distributed",
    "load_checkpoint",
    "lr_factor",
    "map_carry",
    "opt",
    "plot_curves",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
]
