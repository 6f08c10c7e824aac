"""``TrainConfig``: the options of the generic training loop, and the dataclass <-> argparse bridge.

Every config in rnnkit is a dataclass whose fields carry their help text (``opt(default, help)``);
``add_arguments`` turns one into command-line flags (``seq_len`` -> ``--seq-len``) and
``from_args`` reads the parsed flags back, so a flag exists exactly when a field does.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrainConfig", "add_arguments", "from_args", "opt"]

_DEFAULT_STEPS = "_default_steps"  # where add_arguments keeps a config's default --steps


def opt(default: Any, help: str, **metadata: Any) -> Any:
    """A dataclass field with a default and the help text its flag shows (``choices=`` too)."""
    return field(default=default, metadata={"help": help, **metadata})


@dataclass
class TrainConfig:
    """How to train: steps, optimizer, schedule, evaluation, checkpoints, reproducibility."""

    steps: int | None = opt(None, "optimizer steps to run (exclusive with --epochs)")
    epochs: float | None = opt(None, "passes over the training data (exclusive with --steps)")
    optimizer: str = opt("adam", "optimizer", choices=("adam", "adamw", "rmsprop", "sgd"))
    lr: float = opt(2e-3, "peak learning rate, reached at the end of warm-up")
    weight_decay: float = opt(0.0, "weight decay (decoupled for adamw)")
    momentum: float = opt(0.9, "momentum of sgd and rmsprop")
    clip_norm: float = opt(1.0, "clip the global gradient norm to this; 0 turns clipping off")
    warmup: int = opt(100, "steps of linear learning-rate warm-up from 0")
    schedule: str = opt("cosine", "decay after warm-up", choices=("cosine", "step", "constant"))
    min_lr_ratio: float = opt(0.1, "cosine: final learning rate as a fraction of --lr")
    step_size: int = opt(1000, "step schedule: multiply the rate by --gamma every this many steps")
    gamma: float = opt(0.5, "step schedule: the factor")
    eval_every: int = opt(250, "evaluate on the validation data every this many steps (and last)")
    save_every: int = opt(250, "write the resumable checkpoint every this many steps (and last)")
    monitor: str = opt(
        "loss", "validation metric for best checkpoint and early stopping (lower=better)"
    )
    patience: int = opt(0, "stop after this many evaluations without improvement; 0 = never")
    log_every: int = opt(10, "append training loss to metrics.jsonl every this many steps")
    seed: int = opt(0, "seed of every random number generator, for reproducible runs")
    out: str | None = opt(
        "runs/train",
        "folder for checkpoints, metrics.jsonl and plots; one that holds another run is refused "
        "(recipes' default: a fresh folder per run, runs/<recipe>, then runs/<recipe>-2, ...)",
    )
    resume: bool = opt(
        False,
        "continue the run in --out exactly where it stopped; without --out, the latest run of "
        "the recipe (the highest-numbered runs/<recipe>[-N] that holds a last.pt)",
    )
    threads: int = opt(0, "torch CPU threads per process; 0 = cores / processes on this node")
    device: str = opt("auto", "device", choices=("auto", "cpu", "cuda"))
    backend: str = opt("auto", "rnnkit scan backend (see rnnkit.BACKENDS)")
    progress: bool = opt(True, "show a progress bar on a terminal")
    plot: bool = opt(True, "draw curves.png (matplotlib) at the end")


def _flag_type(hint: Any) -> tuple[Any, bool]:
    """(the argparse type of a field annotation, whether it is a bool)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return hint, hint is bool


def add_arguments(parser: argparse.ArgumentParser, config: Any, skip: tuple[str, ...] = ()) -> None:
    """Add one ``--flag`` per field of the dataclass instance ``config`` (values as defaults)."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        if f.name in skip:
            continue
        kind, is_bool = _flag_type(hints[f.name])
        default = getattr(config, f.name)
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "") + (f" (default: {default})" if not is_bool else "")
        if is_bool:
            action = argparse.BooleanOptionalAction
            parser.add_argument(flag, action=action, default=default, help=help_text, dest=f.name)
        else:
            choices = f.metadata.get("choices")
            if f.name == "steps" and hasattr(config, "epochs"):
                # --epochs alone must win over a recipe's default step count: the default
                # applies in from_args only when neither budget flag is given
                parser.set_defaults(**{_DEFAULT_STEPS: default})
                default = None
            parser.add_argument(
                flag, type=kind, default=default, choices=choices, help=help_text, dest=f.name
            )


def from_args(cls: type, args: argparse.Namespace) -> Any:
    """The dataclass ``cls`` filled from the parsed flags that ``add_arguments`` made."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}
    if values.get("steps", 0) is None and values.get("epochs") is None:
        values["steps"] = getattr(args, _DEFAULT_STEPS, None)
    return cls(**values)
