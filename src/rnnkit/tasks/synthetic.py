"""Synthetic long-range tasks: the adding problem and copy memory, a small model, a short trainer.

Run one from the shell (also ``rnnkit synth`` once the main CLI is wired)::

    python -m rnnkit.commands.synth adding --cell lstm --T 100 --steps 2000

Adding problem (Hochreiter & Schmidhuber 1997): input (T, B, 2), channel 0 uniform in [0, 1],
channel 1 a marker with exactly two 1s, one in each half (positions [0, T//2) and [T//2, T)).
Target (B,): the sum of the two marked values, read from the model's output at the last step.
Predicting the constant 1.0 gives MSE = Var(U + U) = 1/6 ≈ 0.167 (the baseline); "solved" is
MSE < 0.01 on a held-out batch.

Copy memory (Hochreiter & Schmidhuber 1997, as set up by Arjovsky et al. 2016): tokens
(T + 20, B): 10 symbols uniform in 1..8, then T - 1 blanks (0), the delimiter (9), 10 blanks.
Target (T + 20, B): T + 10 blanks, then the 10 symbols. Input is one-hot (10 channels), output
9 classes (blank + 8 symbols). The memoryless baseline outputs blank for T + 10 steps and the
uniform distribution over the 8 symbols for the last 10: cross-entropy 10·log 8 / (T + 20) and
accuracy 1/8 on the copied part; "solved" is accuracy >= 0.99 on the copied part.

Data are drawn from an explicit ``torch.Generator``: the same seed gives the same batches.

``fit`` keeps a loop of its own rather than the ``Trainer``'s: a run here is one point of a
sweep (cells x T x seeds), returned as a dict with no files written, stopped at the first
solved evaluation (``stop_on_solve``, where the Trainer stops on patience only) and timed per
evaluation (``seconds``). It shares the Trainer's parts: the optimizer (``build_optimizer``)
and the update (``optimizer_step``: gradients, clipping, step).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import RnnkitError
from ..layers import engine_path
from ..layers.registry import LAYERS, layer_class, make_layer
from ..train.config import TrainConfig, opt
from ..train.optim import build_optimizer, optimizer_step

__all__ = [
    "CELLS",
    "TASKS",
    "SequenceModel",
    "SynthConfig",
    "SyntheticTask",
    "adding_batch",
    "build_model",
    "cell_class",
    "copy_batch",
    "fit",
    "get_task",
    "train_synthetic",
]

# Cell name -> (recurrent layer class, fixed arguments): every layer of rnnkit.layers.registry.
CELLS = LAYERS

COPY_SYMBOLS = 10  # symbols to remember
COPY_ALPHABET = 8  # symbols are 1..8; 0 is blank, 9 the delimiter
ADDING_SOLVED_MSE = 0.01
COPY_SOLVED_ACCURACY = 0.99


def cell_class(name: str) -> type[nn.Module]:
    """The recurrent layer class registered as ``name`` in :data:`CELLS`."""
    return layer_class(name)[0]


def _check_T(T: int, minimum: int = 2) -> None:
    if isinstance(T, bool) or not isinstance(T, int) or minimum > T:
        raise RnnkitError(f"expected T to be an int >= {minimum}, got {T!r}")


def adding_batch(T: int, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """One adding-problem batch: x (T, B, 2) float32 and target (B,) float32."""
    _check_T(T)
    B, half = batch_size, T // 2
    values = torch.rand(T, B, generator=generator)  # (T, B) uniform in [0, 1]
    first = torch.randint(0, half, (B,), generator=generator)  # marker in the first half
    second = torch.randint(half, T, (B,), generator=generator)  # marker in the second half
    markers = torch.zeros(T, B)
    cols = torch.arange(B)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    target = values[first, cols] + values[second, cols]  # (B,)
    return torch.stack((values, markers), dim=-1), target


def copy_batch(T: int, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """One copy-memory batch: tokens (T + 20, B) and targets (T + 20, B), both int64.

    Feed ``F.one_hot(tokens, 10)`` to a model; targets are classes 0 (blank) .. 8.
    """
    _check_T(T, minimum=1)
    S, B = COPY_SYMBOLS, batch_size
    symbols = torch.randint(1, COPY_ALPHABET + 1, (S, B), generator=generator)  # (10, B)
    tokens = torch.zeros(T + 2 * S, B, dtype=torch.int64)
    tokens[:S] = symbols
    tokens[S + T - 1] = COPY_ALPHABET + 1  # the delimiter, after T - 1 blanks
    targets = torch.zeros_like(tokens)
    targets[T + S :] = symbols  # the last 10 steps
    return tokens, targets


@dataclass(frozen=True)
class SyntheticTask:
    """A task as the trainer needs it: data, loss, metrics, baseline and what counts as solved."""

    name: str
    input_size: int  # I
    output_size: int  # O of the Linear head
    batch: Callable[[int, int, torch.Generator], tuple[Tensor, Tensor]]  # (T, B, gen) -> (x, y)
    loss: Callable[[Tensor, Tensor], Tensor]  # (model output (T', B, O), y) -> scalar
    metrics: Callable[[Tensor, Tensor], dict[str, float]]  # eval metrics of (output, y)
    metric: str  # the metric that decides "solved": "mse" or "accuracy"
    baseline: Callable[[int], dict[str, float]]  # T -> metrics of the memoryless baseline
    solved: Callable[[dict[str, float]], bool]


def _adding_loss(out: Tensor, y: Tensor) -> Tensor:
    return F.mse_loss(out[-1, :, 0], y)  # prediction at the last step


def _copy_onehot_batch(T: int, B: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    tokens, targets = copy_batch(T, B, generator)
    return F.one_hot(tokens, COPY_SYMBOLS).float(), targets  # (T + 20, B, 10), (T + 20, B)


def _copy_loss(out: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(out.flatten(0, 1), y.flatten())  # mean over all T + 20 steps


def _copy_metrics(out: Tensor, y: Tensor) -> dict[str, float]:
    copied = out[-COPY_SYMBOLS:].argmax(-1) == y[-COPY_SYMBOLS:]  # (10, B)
    return {"cross_entropy": _copy_loss(out, y).item(), "accuracy": copied.float().mean().item()}


def _copy_baseline(T: int) -> dict[str, float]:
    return {
        "cross_entropy": COPY_SYMBOLS * math.log(COPY_ALPHABET) / (T + 2 * COPY_SYMBOLS),
        "accuracy": 1 / COPY_ALPHABET,
    }


TASKS: dict[str, SyntheticTask] = {
    "adding": SyntheticTask(
        name="adding",
        input_size=2,
        output_size=1,
        batch=adding_batch,
        loss=_adding_loss,
        metrics=lambda out, y: {"mse": _adding_loss(out, y).item()},
        metric="mse",
        baseline=lambda T: {"mse": 1 / 6},
        solved=lambda m: m["mse"] < ADDING_SOLVED_MSE,
    ),
    "copy": SyntheticTask(
        name="copy",
        input_size=COPY_SYMBOLS,
        output_size=COPY_ALPHABET + 1,
        batch=_copy_onehot_batch,
        loss=_copy_loss,
        metrics=_copy_metrics,
        metric="accuracy",
        baseline=_copy_baseline,
        solved=lambda m: m["accuracy"] >= COPY_SOLVED_ACCURACY,
    ),
}


def get_task(name: str) -> SyntheticTask:
    """The task registered as ``name`` in :data:`TASKS`."""
    if name not in TASKS:
        raise RnnkitError(f"unknown task {name!r}; expected one of {', '.join(sorted(TASKS))}")
    return TASKS[name]


class SequenceModel(nn.Module):
    """A recurrent layer chosen by cell name and a Linear head on every step.

    Input (T, B, I) -> output (T, B, O). The recurrent layer is ``self.rnn``.
    """

    def __init__(
        self, cell: str, input_size: int, hidden_size: int, output_size: int, **options: Any
    ) -> None:
        super().__init__()
        self.rnn = make_layer(cell, input_size, hidden_size, **options)  # e.g. forget_bias
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)  # (T, B, H)
        return self.head(out)  # (T, B, O)


def build_model(
    task: str,
    cell: str,
    hidden: int,
    seed: int,
    forget_bias: float | None = None,
    chrono: int | None = None,
) -> SequenceModel:
    """The model for ``task`` with ``cell``, initialized from ``seed`` (global RNG untouched);
    ``forget_bias`` (LSTM family) sets the forget-gate bias at init, ``chrono`` (LSTM family)
    asks for the chrono initialization with T_max = chrono."""
    spec = get_task(task)
    options: dict[str, Any] = {} if forget_bias is None else {"forget_bias": forget_bias}
    if chrono is not None:
        options["chrono_init"] = chrono
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SequenceModel(cell, spec.input_size, hidden, spec.output_size, **options)


_FORGET_GATED = ("lstm", "layernorm_lstm", "peephole_lstm")


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise RnnkitError(f"expected {name} > 0, got {value!r}")


@dataclass(frozen=True)
class SynthConfig:
    """One training run on a synthetic task; defaults: the docs/synthetic.md budget (which also
    sets stop_on_solve)."""

    task: str = opt("adding", "the task: a name in TASKS")
    cell: str = opt("lstm", f"recurrent layer, one of: {', '.join(CELLS)}")
    T: int = opt(100, "sequence length (adding) or blank gap (copy: sequences are T + 20 long)")
    steps: int = opt(2000, "Adam steps")
    hidden: int = opt(64, "hidden size H of the recurrent layer")
    batch_size: int = opt(64, "sequences in every training batch")
    lr: float = opt(3e-3, "Adam learning rate")
    seed: int = opt(0, "seed of model init and training data; the held-out batch uses seed + 1")
    eval_every: int = opt(100, "steps between evaluations on the held-out batch")
    eval_size: int = opt(256, "sequences in the held-out batch")
    clip: float = opt(1.0, "max global gradient norm")
    stop_on_solve: bool = opt(False, "end at the first evaluation that counts as solved")
    forget_bias: float | None = opt(None, "LSTM family: forget-gate bias at init (torch's: none)")
    chrono: int | None = opt(
        None,
        "LSTM family: chrono initialization of the gate biases for dependencies up to this "
        "many steps (Tallec & Ollivier 2018), e.g. the task's T",
    )

    def __post_init__(self) -> None:
        get_task(self.task)
        cell_class(self.cell)
        _check_T(self.T)
        for name in ("steps", "hidden", "batch_size", "lr", "eval_every", "eval_size", "clip"):
            _check_positive(name, getattr(self, name))
        for name in ("forget_bias", "chrono"):
            if getattr(self, name) is not None and self.cell not in _FORGET_GATED:
                raise RnnkitError(
                    f"{name} needs a cell with a forget gate ({', '.join(_FORGET_GATED)}); "
                    f"got cell {self.cell!r}"
                )
        if self.forget_bias is not None and self.chrono is not None:
            raise RnnkitError("forget_bias and chrono both set the forget-gate bias: pass one")
        if self.chrono is not None and (isinstance(self.chrono, bool) or self.chrono < 3):
            raise RnnkitError(f"expected chrono (T_max) to be an int >= 3, got {self.chrono!r}")


def fit(model: nn.Module, cfg: SynthConfig, log: Callable[[dict], None] | None = None) -> dict:
    """Train ``model`` ((T, B, I) -> (T, B, O)) as ``cfg`` says; see :func:`train_synthetic`."""
    spec = get_task(cfg.task)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_optimizer(params, TrainConfig(optimizer="adam", lr=cfg.lr))
    train_gen = torch.Generator().manual_seed(cfg.seed)
    x_eval, y_eval = spec.batch(cfg.T, cfg.eval_size, torch.Generator().manual_seed(cfg.seed + 1))
    history: list[dict] = []
    steps_to_solve, running, step = None, [], 0
    start, cpu_start = time.perf_counter(), time.process_time()
    final: dict[str, float] = {}
    for step in range(1, cfg.steps + 1):
        x, y = spec.batch(cfg.T, cfg.batch_size, train_gen)
        loss = spec.loss(model(x), y)
        optimizer_step(loss, optimizer, params, cfg.clip)  # the Trainer's update
        running.append(loss.item())
        if step % cfg.eval_every == 0 or step == cfg.steps:
            with torch.no_grad():
                final = spec.metrics(model(x_eval), y_eval)
            record = {"step": step, "train_loss": sum(running) / len(running), **final}
            record["seconds"] = time.perf_counter() - start
            running = []
            history.append(record)
            if steps_to_solve is None and spec.solved(final):
                steps_to_solve = step
            if log is not None:
                log(record)
            if cfg.stop_on_solve and steps_to_solve is not None:
                break
    return {
        **asdict(cfg),
        "steps_run": step,
        "metric": spec.metric,
        "baseline": spec.baseline(cfg.T),
        "final": final,
        "solved": spec.solved(final),
        "steps_to_solve": steps_to_solve,
        "seconds": time.perf_counter() - start,  # wall clock
        "cpu_seconds": time.process_time() - cpu_start,  # this process's CPU time
        "backend": engine_path(),  # the engine that ran the last scan
        "history": history,
    }


def train_synthetic(
    task: str,
    cell: str,
    T: int,
    steps: int,
    hidden: int = 64,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    log: Callable[[dict], None] | None = None,
    **options,
) -> dict:
    """Train a fresh ``cell`` model on ``task`` with Adam and clipping; a JSON-ready result.

    ``options`` are the other :class:`SynthConfig` fields (eval_every, eval_size, clip,
    stop_on_solve). ``steps_to_solve`` is the first evaluated step whose held-out metric
    counts as solved (None if never); ``final`` holds the held-out metrics after the last step
    run (``steps_to_solve`` with stop_on_solve); ``baseline`` the memoryless baseline's
    metrics; ``history`` the mean train loss and held-out metrics at each evaluation.
    ``log`` is called with each history record as it is made.
    """
    cfg = SynthConfig(task, cell, T, steps, hidden, batch_size, lr, seed, **options)
    return fit(build_model(task, cell, hidden, seed, cfg.forget_bias, cfg.chrono), cfg, log)
