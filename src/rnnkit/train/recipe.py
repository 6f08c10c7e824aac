"""What every ``rnnkit <task> train|predict`` recipe shares around the ``Trainer``.

A recipe checks the user's input before anything is written, then: ``prepare_out`` (the
checkpoint to resume, or a refusal to overwrite a finished run), ``setup`` (processes, threads,
backend), ``run_config`` (what must match on resume, recorded in every checkpoint) and
``check_same_run``; to use a trained model, ``load_task_checkpoint`` finds best.pt/last.pt in a
run directory and refuses a checkpoint written by another task.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, RnnkitError
from .checkpoint import load_checkpoint
from .config import TrainConfig
from .distributed import DistEnv, init_distributed
from .trainer import BEST, LAST

__all__ = [
    "RESUMABLE",
    "check_backend",
    "check_same_run",
    "check_train_options",
    "load_task_checkpoint",
    "prepare_out",
    "run_config",
    "select_backend",
    "setup",
]

# TrainConfig fields that may differ when a run is resumed; all other options must match
RESUMABLE = frozenset(
    {"steps", "epochs", "out", "resume", "threads", "device", "backend", "progress", "plot"}
    | {"log_every", "eval_every", "save_every", "patience"}
)


def check_backend(name: str) -> None:
    """The error for a ``--backend`` that is not one of rnnkit.BACKENDS."""
    import rnnkit

    if name not in rnnkit.BACKENDS:
        raise RnnkitError(f"--backend must be one of {', '.join(rnnkit.BACKENDS)}; got {name}")


def select_backend(name: str) -> None:
    """A predict/sample command's ``--backend``: checked, then set for the process."""
    import rnnkit

    check_backend(name)
    rnnkit.set_backend(name)


def check_train_options(tcfg: TrainConfig) -> None:
    """Errors for generic options a recipe cannot run with (before any work)."""
    check_backend(tcfg.backend)
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
    """The checkpoint to resume (``--resume``) or None; refuses to overwrite a finished run."""
    last = Path(tcfg.out) / LAST
    if tcfg.resume:
        if not last.exists():
            raise CheckpointError(f"--resume: there is no {LAST} in {tcfg.out} to continue")
        return load_checkpoint(last)
    if last.exists():
        raise RnnkitError(
            f"{tcfg.out} already holds a run ({LAST}); pass --resume to continue it or "
            "choose another --out"
        )
    return None


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
