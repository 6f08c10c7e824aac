"""``Trainer``: the generic loop (optimizer, clipping, schedule, evaluation, checkpoints, DDP).

The model-specific part is a small ``Task``: ``train_step(model, step, carry)`` returns the loss
of global step ``step`` (the batch is a pure function of the step, which makes the data
position just the step number) and a detached ``carry`` that the next step receives (the
hidden state of truncated BPTT; None for tasks without one). ``evaluate(model)`` returns
validation metrics, lower is better for the monitored one. A task may also have ``labels``,
metric name -> axis label with its unit (``"loss": "cross-entropy (nats per token)"``), for
the axes of curves.png.

A checkpoint holds model, optimizer, scheduler, every rank's RNG states and carry, the step and
the early-stopping state, so ``fit(resume=checkpoint)`` continues bit for bit. With ``--ema`` an
exponential moving average of the weights (``torch.optim.swa_utils.AveragedModel``) is what
evaluation sees and what a checkpoint's ``model`` holds; the trained weights go beside it.
Under torchrun the model is wrapped in DistributedDataParallel; each rank's task feeds its
share of the global batch, and only rank 0 writes files.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..errors import CheckpointError, RnnkitError
from .checkpoint import rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig, training_dtype
from .distributed import DistEnv
from .history import MetricsLog, plot_curves
from .optim import build_optimizer, build_scheduler, optimizer_step

__all__ = ["StepResult", "Task", "Trainer", "map_carry"]

LAST, BEST = "last.pt", "best.pt"  # resumable checkpoint; checkpoint of the best evaluation


@dataclasses.dataclass
class StepResult:
    """What a task's training step returns."""

    loss: Tensor  # scalar mean loss over this rank's batch, with grad
    carry: Any = None  # detached state for the next step (tensor, tuple of tensors or None)
    count: int = 0  # tokens (or examples) in this rank's batch, for throughput


class Task(Protocol):
    """The model-specific half of training (see the module docstring)."""

    def steps_per_epoch(self) -> int: ...

    def train_step(self, model: nn.Module, step: int, carry: Any) -> StepResult: ...

    def evaluate(self, model: nn.Module) -> dict[str, float]: ...


def map_carry(fn, carry: Any) -> Any:
    """Apply ``fn`` to every tensor of a carry (None, a tensor, or nested tuples/lists)."""
    if carry is None:
        return None
    if isinstance(carry, Tensor):
        return fn(carry)
    return type(carry)(map_carry(fn, c) for c in carry)


@dataclasses.dataclass
class _State:
    step: int = 0  # optimizer steps done
    carry: Any = None  # this rank's carried state
    best: float = math.inf  # best monitored validation value so far
    bad_evals: int = 0  # evaluations since the best
    last_eval: dict[str, float] = dataclasses.field(default_factory=dict)


class Trainer:
    """Fits ``model`` on ``task`` as ``config`` says; ``run_config`` and ``extra`` go into
    every checkpoint (the caller's own description of the run, e.g. model sizes and vocabulary).
    """

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        config: TrainConfig,
        env: DistEnv | None = None,
        run_config: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        log=print,
    ) -> None:
        self.model, self.task, self.config = model, task, config
        self.env = env or DistEnv()
        self._ema: AveragedModel | None = None  # set by fit with --ema
        # training steps under autocast
        self._bf16 = training_dtype(config.precision, self.env.device.type) == torch.bfloat16
        self.run_config, self.extra, self.log = run_config or {}, extra or {}, log
        self.out = Path(config.out)
        self.metrics = MetricsLog(self.out / "metrics.jsonl")

    def total_steps(self) -> int:
        """Steps of the whole run, from ``config.steps`` or ``config.epochs``."""
        cfg = self.config
        if cfg.steps is not None and cfg.epochs is not None:
            raise RnnkitError("give --steps or --epochs, not both")
        if cfg.steps is not None:
            total = cfg.steps
        elif cfg.epochs is not None:
            total = math.ceil(cfg.epochs * self.task.steps_per_epoch())
        else:
            raise RnnkitError("give --steps N or --epochs N")
        if total < 1:
            raise RnnkitError(f"the run needs at least one step; got {total}")
        return total

    def fit(self, resume: dict[str, Any] | None = None) -> dict[str, float]:
        """Train to the last step (or early stop); returns the last validation metrics."""
        cfg, env = self.config, self.env
        total = self.total_steps()
        self.model.to(env.device)
        net = self.model
        if env.world_size > 1:
            ids = [env.device.index] if env.device.type == "cuda" else None
            net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        optimizer = build_optimizer(self.model.parameters(), cfg)
        scheduler = build_scheduler(optimizer, cfg, total)
        self._ema = None  # the weights' moving average (torch.optim.swa_utils), --ema
        if cfg.ema:
            self._ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema))
        state = _State()
        if resume is not None:
            self._restore(resume, optimizer, scheduler, state)
        elif env.world_size > 1:
            torch.manual_seed(cfg.seed + 7919 * env.rank)  # each rank its own dropout masks
        if env.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            self.metrics.truncate_after(state.step)
            if cfg.precision == "auto":
                kind = "bfloat16 (native here)" if self._bf16 else "float32 (no native bfloat16)"
                self._say(f"--precision auto: training steps in {kind}")
        self._loop(net, optimizer, scheduler, state, total)
        if self._ema is not None:  # the run leaves the average, as its checkpoints hold it
            self.model.load_state_dict(self._ema.module.state_dict())
        if env.is_main and cfg.plot:
            labels = getattr(self.task, "labels", None)  # metric name -> axis label
            plot_curves(self.metrics.records(), self.out / "curves.png", cfg.monitor, labels)
        return state.last_eval

    def _loop(self, net, optimizer, scheduler, state: _State, total: int) -> None:
        cfg, env = self.config, self.env
        params = [p for p in self.model.parameters() if p.requires_grad]
        bar = self._bar = self._progress_bar(total, state.step)
        shown: dict[str, str] = {}  # the bar's postfix: last training loss, speed, validation
        tokens, t0, loss_sum, n_loss = 0, time.perf_counter(), 0.0, 0
        stop = False
        while state.step < total and not stop:
            net.train()
            with torch.autocast(env.device.type, torch.bfloat16, enabled=self._bf16):
                result = self.task.train_step(net, state.step, state.carry)
            optimizer_step(result.loss, optimizer, params, cfg.clip_norm)
            if self._ema is not None:
                self._ema.update_parameters(self.model)
            scheduler.step()
            state.carry, state.step = result.carry, state.step + 1
            tokens += result.count * env.world_size
            loss_sum, n_loss = loss_sum + result.loss.item(), n_loss + 1
            if state.step % cfg.log_every == 0 or state.step == total:
                speed = tokens / max(time.perf_counter() - t0, 1e-9)
                record = {
                    "step": state.step,
                    "epoch": state.step / self.task.steps_per_epoch(),
                    "lr": scheduler.get_last_lr()[0],
                    "loss": env.mean(loss_sum / n_loss),
                    "tokens_per_s": speed,
                }
                self._write(record)
                shown.update(loss=f"{record['loss']:.3f}", tok_s=f"{speed:.0f}")
                bar.set_postfix(**shown, **self._val(state))
                tokens, t0, loss_sum, n_loss = 0, time.perf_counter(), 0.0, 0
            bar.update(1)
            if state.step % cfg.eval_every == 0 or state.step == total:
                started = time.perf_counter()
                stop = self._evaluate(state, optimizer, scheduler)
                t0 += time.perf_counter() - started  # tokens/s counts training time only
                bar.set_postfix(**shown, **self._val(state))
            if state.step % cfg.save_every == 0 or state.step == total or stop:
                self._save(LAST, state, optimizer, scheduler)
        bar.close()

    def _evaluate(self, state: _State, optimizer, scheduler) -> bool:
        """Evaluate, write best.pt on improvement; True when early stopping says stop."""
        cfg = self.config
        model = self.model if self._ema is None else self._ema.module
        model.eval()
        with torch.no_grad():
            metrics = self.task.evaluate(model)
        if cfg.monitor not in metrics:
            raise RnnkitError(f"--monitor {cfg.monitor!r} is not among {sorted(metrics)}")
        state.last_eval = metrics
        self._write({"step": state.step, **{f"val_{k}": v for k, v in metrics.items()}})
        if self.env.is_main:
            shown = "  ".join(f"val_{k} {v:.4f}" for k, v in metrics.items())
            self._say(f"step {state.step}: {shown}")
        value = metrics[cfg.monitor]
        if value < state.best:
            state.best, state.bad_evals = value, 0
            self._save(BEST, state, optimizer, scheduler)
            return False
        state.bad_evals += 1
        return cfg.patience > 0 and state.bad_evals >= cfg.patience

    def _save(self, name: str, state: _State, optimizer, scheduler) -> None:
        """Gather every rank's RNG and carry; rank 0 writes ``out/name`` atomically."""
        cpu_carry = map_carry(lambda t: t.detach().cpu(), state.carry)
        per_rank = self.env.all_gather({"rng": rng_state(), "carry": cpu_carry})
        if not self.env.is_main:
            return
        payload = {
            "step": state.step,
            "model": self.model.state_dict(),
            **self._ema_payload(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "ranks": per_rank,
            "world_size": self.env.world_size,
            "best": state.best,
            "bad_evals": state.bad_evals,
            "last_eval": state.last_eval,
            "config": self.run_config,
            "train_config": dataclasses.asdict(self.config),
            "training_dtype": self._dtype_name(),  # what --precision resolved to here
            **self.extra,
        }
        save_checkpoint(self.out / name, payload)

    def _ema_payload(self) -> dict[str, Any]:
        """With --ema a checkpoint's ``model`` is the average (what predict and evaluate load);
        the trained weights and the average's update count go beside it, for resume."""
        if self._ema is None:
            return {}
        return {
            "model": self._ema.module.state_dict(),
            "trained_model": self.model.state_dict(),
            "ema_updates": int(self._ema.n_averaged),
        }

    def _dtype_name(self) -> str:
        return "bfloat16" if self._bf16 else "float32"

    def _restore(self, ckpt: dict[str, Any], optimizer, scheduler, state: _State) -> None:
        env = self.env
        before = ckpt.get("training_dtype")  # (absent in checkpoints of older versions)
        if before is not None and before != self._dtype_name() and env.is_main:
            self._say(
                f"--resume: the run's steps so far ran in {before}, here they run in "
                f"{self._dtype_name()} (--precision {self.config.precision} on this machine): "
                "the continuation is not bit for bit what one machine would have trained"
            )
        if ckpt.get("world_size") != env.world_size:
            raise CheckpointError(
                f"the checkpoint was written by {ckpt.get('world_size')} processes; "
                f"this run has {env.world_size}: resume with the same number"
            )
        try:
            self.model.load_state_dict(ckpt.get("trained_model", ckpt["model"]))
            if self._ema is not None:
                self._ema.module.load_state_dict(ckpt["model"])
                self._ema.n_averaged.fill_(ckpt["ema_updates"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            mine = ckpt["ranks"][env.rank]
        except (KeyError, RuntimeError, ValueError, IndexError) as exc:
            first = str(exc).strip().splitlines()[0][:160]
            raise CheckpointError(f"the checkpoint does not fit this model: {first}") from None
        set_rng_state(mine["rng"])
        state.carry = map_carry(lambda t: t.to(env.device), mine["carry"])
        state.step, state.best = ckpt["step"], ckpt["best"]
        state.bad_evals, state.last_eval = ckpt["bad_evals"], ckpt["last_eval"]

    def _write(self, record: dict[str, Any]) -> None:
        if self.env.is_main:
            self.metrics.write(record)

    def _val(self, state: _State | None = None) -> dict[str, str]:
        if state is None or not state.last_eval:
            return {}
        return {f"val_{self.config.monitor}": f"{state.last_eval[self.config.monitor]:.3f}"}

    def _say(self, message: str) -> None:
        """Log a line; printed above the progress bar (not into it) while one is shown."""
        bar = getattr(self, "_bar", None)
        if self.log is print and hasattr(bar, "write"):
            bar.write(message)
        else:
            self.log(message)

    def _progress_bar(self, total: int, initial: int):
        try:
            from tqdm import tqdm
        except ImportError:  # a bar is a nicety; training goes on without it
            tqdm = None
        show = self.config.progress and self.env.is_main and sys.stderr.isatty()
        if tqdm is None or not show:
            return _NoBar()
        return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)


class _NoBar:
    def set_postfix(self, **_: Any) -> None:
        pass

    def update(self, _: int) -> None:
        pass

    def close(self) -> None:
        pass
