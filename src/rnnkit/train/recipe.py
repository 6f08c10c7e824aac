"""One skeleton for every ``rnnkit <task> train`` recipe, and what recipes share around it.

A recipe is a ``Recipe`` subclass: its config, how to load and check the data, a data module,
a model, the ``Task`` the ``Trainer`` runs, and a report. ``run_recipe`` does the rest, the
same for every recipe: the checks of the user's input (before anything is written), ``setup``
(processes, threads, backend), the run folder (``runs.open_run``: a fresh one by default, the
checkpoint to resume, or a refusal to overwrite a finished run), ``run_config`` (what must
match on resume, recorded in every checkpoint) and ``check_same_run``, the ``Trainer``, and
the report. To use a trained model, ``load_task_checkpoint`` finds best.pt/last.pt in a run
directory and refuses a checkpoint written by another task.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, RnnkitError
from .checkpoint import load_checkpoint
from .config import PRECISIONS, TrainConfig
from .distributed import DistEnv, init_distributed
from .runs import open_run, release, resumable
from .trainer import BEST, LAST, Task, Trainer

__all__ = [
    "RESUMABLE",
    "Recipe",
    "Run",
    "check_backend",
    "check_same_run",
    "check_train_options",
    "load_task_checkpoint",
    "prepare_out",
    "run_config",
    "run_recipe",
    "setup",
]

# TrainConfig fields that may differ when a run is resumed; all other options must match
RESUMABLE = frozenset(
    {"steps", "epochs", "out", "resume", "threads", "device", "backend", "progress", "plot"}
    | {"log_every", "eval_every", "save_every", "patience", "precision"}
)


def check_backend(name: str) -> None:
    """The error for a ``--backend`` that is not one of rnnkit.BACKENDS."""
    import rnnkit

    if name not in rnnkit.BACKENDS:
        raise RnnkitError(f"--backend must be one of {', '.join(rnnkit.BACKENDS)}; got {name}")


def check_train_options(tcfg: TrainConfig) -> None:
    """Errors for generic options a recipe cannot run with (before any work)."""
    check_backend(tcfg.backend)
    if tcfg.precision not in PRECISIONS:
        raise RnnkitError(
            f"--precision must be one of {', '.join(PRECISIONS)}; got {tcfg.precision}"
        )
    if not 0 <= tcfg.ema < 1:
        raise RnnkitError(f"--ema must be in [0, 1) (0 = off); got {tcfg.ema}")
    for name in ("eval_every", "save_every", "log_every"):
        if getattr(tcfg, name) < 1:
            raise RnnkitError(f"--{name.replace('_', '-')} must be >= 1; got {getattr(tcfg, name)}")


def run_config(task: str, cfg: Any, tcfg: TrainConfig, data_sha: str) -> dict[str, Any]:
    """The run's description stored in checkpoints: the task's config under the key ``task``,
    the non-resumable training options and the data's digest."""
    train = {k: v for k, v in dataclasses.asdict(tcfg).items() if k not in RESUMABLE}
    return {"task": task, task: dataclasses.asdict(cfg), "train": train, "data_sha256": data_sha}


def check_same_run(saved: dict[str, Any], now: dict[str, Any], path: Path) -> None:
    """``CheckpointError`` unless the checkpoint's run config matches the one asked for now."""
    task = now["task"]
    if saved.get("task") != task:
        raise CheckpointError(f"--resume: {path} is not a {task} run (it has {_kind(saved)})")
    if saved.get("data_sha256") != now["data_sha256"]:
        raise CheckpointError(f"--resume: {path} was trained on other data than --data gives")
    diffs = []
    for group in (task, "train"):
        old, new = saved.get(group, {}), now[group]
        for key in new:
            if old.get(key, object()) != new[key]:
                diffs.append(f"--{key.replace('_', '-')} {old.get(key)} (now {new[key]})")
    if diffs:
        raise CheckpointError(
            f"--resume: {path} is a run of another configuration: it had " + ", ".join(diffs)
        )


def _kind(config: dict[str, Any]) -> str:
    task = config.get("task")
    return f"a {task} checkpoint" if isinstance(task, str) else "no rnnkit task recorded"


def prepare_out(tcfg: TrainConfig) -> dict[str, Any] | None:
    """The checkpoint to resume (``--resume``) or None; refuses to overwrite a finished run in
    the explicit ``--out`` (``run_recipe`` also picks the folder when there is none)."""
    return resumable(tcfg.out, tcfg.resume)


def setup(tcfg: TrainConfig) -> DistEnv:
    """Start torch.distributed when under torchrun, set threads and the rnnkit backend."""
    import rnnkit

    env = init_distributed(tcfg.device)
    threads = tcfg.threads or max(1, (os.cpu_count() or 1) // env.local_world_size)
    torch.set_num_threads(threads)
    rnnkit.set_backend(tcfg.backend)
    return env


def load_task_checkpoint(path: str | os.PathLike, task: str) -> tuple[dict[str, Any], Path]:
    """(checkpoint, file) from a run directory (best.pt, else last.pt) or a file, written by
    the recipe ``task``; ``CheckpointError`` for a missing file or another task's checkpoint."""
    p = Path(path)
    if p.is_dir():
        p = p / BEST if (p / BEST).exists() else p / LAST
    ckpt = load_checkpoint(p)
    config = ckpt.get("config")
    if not isinstance(config, dict) or config.get("task") != task or task not in config:
        kind = _kind(config) if isinstance(config, dict) else "no rnnkit task recorded"
        raise CheckpointError(f"{p} is not a {task} checkpoint (it has {kind})")
    return ckpt, p


@dataclasses.dataclass
class Run:
    """One finished training run, as a recipe's ``report`` sees it."""

    cfg: Any  # the recipe's config, defaults resolved
    tcfg: TrainConfig  # the training options; ``out`` is the run's folder
    env: DistEnv
    data: Any  # what the recipe's ``build_data`` returned
    model: nn.Module  # the model after the last step (best.pt holds the best one)
    metrics: dict[str, float]  # the last validation metrics
    seconds: float  # wall time of training
    log: Callable[[str], None]  # prints (on rank 0 only)

    @property
    def out(self) -> Path:
        """The run's folder."""
        return Path(self.tcfg.out)


class Recipe:
    """The parts of one ``rnnkit <name> train``; ``run_recipe`` runs them in this order:
    ``resolve``, ``check``, ``load``, ``build_data``, ``build_model``, ``task``, ``describe``,
    (training), ``report``. A new recipe fills these in and nothing more."""

    name = ""  # the task: the run config's key, checkpoints' "task", default folder runs/<name>

    def resolve(self, cfg: Any) -> Any:
        """``cfg`` with the defaults that depend on other options filled in (checkpoints store
        the resolved values)."""
        return cfg

    def check(self, cfg: Any, tcfg: TrainConfig) -> None:
        """``RnnkitError`` for options this recipe cannot run with (nothing read yet)."""

    def load(self, cfg: Any) -> tuple[Any, str]:
        """(the raw data, its sha256 hex digest); ``RnnkitError`` for unreadable input."""
        raise NotImplementedError

    def build_data(
        self, cfg: Any, tcfg: TrainConfig, raw: Any, env: DistEnv, resume: dict | None
    ) -> Any:
        """The data module: this rank's batches, validation data, what the model needs to
        know (vocabulary, classes); ``resume`` is the checkpoint being continued, or None."""
        raise NotImplementedError

    def build_model(self, cfg: Any, data: Any) -> nn.Module:
        """The model to train (called under ``torch.manual_seed(--seed)``)."""
        raise NotImplementedError

    def task(self, cfg: Any, tcfg: TrainConfig, data: Any, env: DistEnv) -> Task:
        """The ``Task`` the Trainer runs."""
        raise NotImplementedError

    def extra(self, data: Any) -> dict[str, Any]:
        """What every checkpoint carries besides the weights (e.g. the vocabulary)."""
        return {}

    def describe(self, cfg: Any, data: Any, model: nn.Module, env: DistEnv) -> str:
        """The line printed before training: data sizes, parameters, processes."""
        return ""

    def report(self, run: Run) -> dict[str, Any]:
        """What the run returns (rank 0): by default the last validation metrics."""
        return run.metrics


def _silent(_: str) -> None:
    pass


def _trainer(recipe: Recipe, cfg, tcfg: TrainConfig, raw, digest: str, env, resume, say):
    """The Trainer of a run whose folder is chosen: same-run check, data, model, task."""
    config = run_config(recipe.name, cfg, tcfg, digest)
    if resume is not None:
        check_same_run(resume["config"], config, Path(tcfg.out) / LAST)
    data = recipe.build_data(cfg, tcfg, raw, env, resume)
    torch.manual_seed(tcfg.seed)
    model = recipe.build_model(cfg, data)
    task = recipe.task(cfg, tcfg, data, env)
    line = recipe.describe(cfg, data, model, env)
    if line:
        say(line)
    return data, Trainer(model, task, tcfg, env, config, recipe.extra(data), log=say)


def run_recipe(
    recipe: Recipe, cfg: Any, tcfg: TrainConfig, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Train ``recipe`` as ``cfg`` and ``tcfg`` say, then report (see the module docstring).

    ``tcfg.out`` None gives the run a fresh folder ``runs/<name>[-N]`` (with ``resume``: the
    latest one); its first line of output names the folder. Returns the recipe's report on
    rank 0, the last validation metrics on the other ranks.
    """
    cfg = recipe.resolve(cfg)
    recipe.check(cfg, tcfg)
    check_train_options(tcfg)
    raw, digest = recipe.load(cfg)
    env = setup(tcfg)
    say = log if env.is_main else _silent
    folder = open_run(tcfg, recipe.name, env)
    say(folder.headline(recipe.name))
    tcfg = dataclasses.replace(tcfg, out=str(folder.path))
    try:
        data, trainer = _trainer(recipe, cfg, tcfg, raw, digest, env, folder.resume, say)
        trainer.total_steps()  # the step budget, checked before fit writes anything
    except BaseException:
        if folder.fresh:
            release(folder.path)  # a run that never started leaves no folder behind
        raise
    start = time.perf_counter()
    metrics = trainer.fit(resume=folder.resume)
    seconds = time.perf_counter() - start
    say(f"trained in {seconds:.0f} s; checkpoints in {tcfg.out}")
    if not env.is_main:
        return metrics
    return recipe.report(Run(cfg, tcfg, env, data, trainer.model, metrics, seconds, say))
