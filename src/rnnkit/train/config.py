"""``TrainConfig``: the options of the generic training loop, and ``opt``, a config's field.

Every config in rnnkit is a dataclass whose fields carry their help text and, where the values
are few, their choices (``opt(default, help, choices=...)``): the documentation of the field
for Python callers, and what ``rnnkit.commands.flags`` turns into the command line's flags.
Nothing here knows argparse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..engine import BACKENDS, autotune

__all__ = ["PRECISIONS", "TrainConfig", "opt", "training_dtype"]

PRECISIONS = ("float32", "bfloat16", "auto")


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
    ema: float = opt(
        0.0,
        "keep an exponential moving average of the weights, this decay per step (e.g. 0.999): "
        "evaluation, best.pt and the model a run leaves are the average; 0 = off",
    )
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
        "folder for checkpoints, metrics.jsonl and plots, refused if it holds another run; "
        "default: a fresh one per run, runs/<recipe>, then runs/<recipe>-2, ... (named on the "
        "first line of output; the Trainer alone: runs/train)",
    )
    resume: bool = opt(
        False,
        "continue the run in --out exactly where it stopped; without --out, the latest run of "
        "the recipe (the highest-numbered runs/<recipe>[-N] that holds a last.pt)",
    )
    threads: int = opt(0, "torch CPU threads per process; 0 = cores / processes on this node")
    device: str = opt("auto", "device", choices=("auto", "cpu", "cuda"))
    backend: str = opt("auto", f"rnnkit scan backend, one of: {', '.join(BACKENDS)}")
    precision: str = opt(
        "float32",
        "training steps' arithmetic: bfloat16 runs them under torch.autocast (rnnkit's big and "
        "per-step products in bfloat16 where the CPU has it, state and sums float32); auto: "
        "bfloat16 where the CPU has native bfloat16 arithmetic (AVX512-BF16 or AMX), else "
        "float32; evaluation stays float32",
        choices=PRECISIONS,
    )
    progress: bool = opt(True, "show a progress bar on a terminal")
    plot: bool = opt(True, "draw curves.png (matplotlib) at the end")


def training_dtype(precision: str, device_type: str = "cpu") -> torch.dtype:
    """The dtype training steps autocast to for ``--precision`` on ``device_type``: ``auto``
    is bfloat16 on a CPU with native bfloat16 arithmetic (AVX512-BF16 or AMX) or a CUDA device
    that supports it, float32 elsewhere (emulated bfloat16 is slower there and gains nothing)."""
    if precision == "auto":
        if device_type == "cuda":
            native = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        else:
            native = device_type == "cpu" and autotune.native_bf16()
        return torch.bfloat16 if native else torch.float32
    return torch.bfloat16 if precision == "bfloat16" else torch.float32
