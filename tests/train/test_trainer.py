"""The generic Trainer on a toy task: learning, metrics, best checkpoint, early stop, resume."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

from rnnkit.engine import autotune
from rnnkit.train import BEST, LAST, StepResult, TrainConfig, Trainer, load_checkpoint
from rnnkit.train.config import training_dtype


class ToyTask:
    """Least squares y = x·w on 8 fixed batches; the carry counts steps since the epoch start."""

    def __init__(self, val_values=None, crash_at=None) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(8, 16, 4, generator=g)  # (batches, B, I)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
        self.val_values = val_values  # forced validation losses, for early stopping
        self.evals = 0
        self.crash_at = crash_at  # step at which train_step raises, as a killed run would stop

    def steps_per_epoch(self) -> int:
        return 8

    def train_step(self, model, step, carry):
        if step == self.crash_at:
            raise KeyboardInterrupt
        k = step % 8
        carry = torch.zeros(()) if k == 0 else carry + 1
        pred = model(self.x[k]).squeeze(-1)
        noise = 0.01 * torch.randn(pred.shape)  # uses the RNG, so resume must restore it
        loss = ((pred + noise - self.y[k]) ** 2).mean()
        return StepResult(loss, carry.detach(), 16)

    def evaluate(self, model):
        self.evals += 1
        if self.val_values is not None:
            return {"loss": self.val_values[self.evals - 1]}
        with torch.no_grad():
            return {"loss": ((model(self.x[0]).squeeze(-1) - self.y[0]) ** 2).mean().item()}


def _fit(tmp_path, name="run", task=None, resume=None, log=lambda _: None, **overrides):
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    cfg = TrainConfig(
        steps=40, lr=0.3, warmup=2, eval_every=10, save_every=5, log_every=5, plot=False
    )
    cfg = dataclasses.replace(cfg, out=str(tmp_path / name), **overrides)
    trainer = Trainer(model, task or ToyTask(), cfg, run_config={"toy": 1}, log=log)
    metrics = trainer.fit(resume=resume)
    return model, metrics, tmp_path / name


def test_trainer_learns_and_writes_metrics_and_checkpoints(tmp_path):
    _, metrics, out = _fit(tmp_path, plot=True)
    assert metrics["loss"] < 0.05
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == list(range(5, 41, 5))
    assert [r["step"] for r in records if "val_loss" in r] == [10, 20, 30, 40]
    assert {"lr", "tokens_per_s", "epoch"} <= set(records[0])
    assert load_checkpoint(out / LAST)["step"] == 40
    best = min(r["val_loss"] for r in records if "val_loss" in r)
    assert load_checkpoint(out / BEST)["best"] == best
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_early_stopping_stops_after_patience_evaluations(tmp_path):
    task = ToyTask(val_values=[1.0, 0.5, 0.6, 0.7, 0.8])
    _, metrics, out = _fit(tmp_path, task=task, patience=2, eval_every=5)
    ckpt = load_checkpoint(out / LAST)
    assert ckpt["step"] == 20 and ckpt["bad_evals"] == 2
    assert load_checkpoint(out / BEST)["step"] == 10 and metrics["loss"] == 0.7


def test_resume_in_process_continues_bit_for_bit(tmp_path):
    full, _, _ = _fit(tmp_path, "full")
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, "part", task=ToyTask(crash_at=17))  # last.pt written at step 15
    ckpt = load_checkpoint(tmp_path / "part" / LAST)
    assert ckpt["step"] == 15 and ckpt["ranks"][0]["carry"].item() == 6
    resumed, _, _ = _fit(tmp_path, "part", resume=ckpt)
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    steps = [json.loads(line)["step"] for line in (tmp_path / "part" / "metrics.jsonl").open()]
    assert steps == [
        json.loads(line)["step"] for line in (tmp_path / "full" / "metrics.jsonl").open()
    ]


class _AutocastProbe(ToyTask):
    """ToyTask that records, per training step and evaluation, whether autocast was on."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, bool, torch.dtype]] = []

    def train_step(self, model, step, carry):
        self.seen.append(("train", torch.is_autocast_enabled("cpu"), model(self.x[0]).dtype))
        return super().train_step(model, step, carry)

    def evaluate(self, model):
        self.seen.append(("eval", torch.is_autocast_enabled("cpu"), model(self.x[0]).dtype))
        return super().evaluate(model)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_precision_bfloat16_runs_training_steps_under_autocast_and_evaluates_in_float32(
    tmp_path, precision
):
    task = _AutocastProbe()
    model, metrics, _ = _fit(tmp_path, task=task, precision=precision)
    low = precision == "bfloat16"
    train = [s for s in task.seen if s[0] == "train"]
    assert train and all(s[1:] == (low, torch.bfloat16 if low else torch.float32) for s in train)
    assert all(s[1:] == (False, torch.float32) for s in task.seen if s[0] == "eval")
    assert model.weight.dtype == torch.float32
    assert metrics["loss"] < 0.05  # it still learns y = x·w


@pytest.mark.parametrize("native", [True, False])
def test_precision_auto_trains_in_bfloat16_only_where_the_cpu_has_it_native(
    tmp_path, monkeypatch, native
):
    monkeypatch.setattr(autotune, "native_bf16", lambda: native)
    assert training_dtype("auto") == (torch.bfloat16 if native else torch.float32)
    assert training_dtype("bfloat16") == torch.bfloat16  # asked for: emulated where not native
    assert training_dtype("float32") == torch.float32
    task, said = _AutocastProbe(), []
    _fit(tmp_path, task=task, precision="auto", log=said.append)
    train = [s for s in task.seen if s[0] == "train"]
    assert train and all(s[1] == native for s in train)
    kind = "bfloat16" if native else "float32"
    assert [m for m in said if m.startswith("--precision auto")] == [
        f"--precision auto: training steps in {kind} "
        + ("(native here)" if native else "(no native bfloat16)")
    ]


def test_ema_evaluates_saves_and_leaves_the_moving_average_of_the_weights(tmp_path):
    decay, seen = 0.8, []

    class Probe(ToyTask):
        def evaluate(self, model):
            seen.append(model.weight.detach().clone())
            return super().evaluate(model)

    trained = []  # the weights after each optimizer step, from the plain run
    plain = Probe()
    orig = plain.train_step

    def record(model, step, carry):
        if step:
            trained.append(next(iter(model.parameters())).detach().clone())
        return orig(model, step, carry)

    plain.train_step = record
    model, _, _ = _fit(tmp_path, "plain", task=plain)
    trained.append(model.weight.detach().clone())
    seen.clear()
    ema_model, _, out = _fit(tmp_path, "ema", task=Probe(), ema=decay)
    average = trained[0]
    for w in trained[1:]:
        average = decay * average + (1 - decay) * w
    assert len(seen) == 4 and torch.allclose(seen[-1], average, atol=1e-6)
    assert torch.allclose(ema_model.weight, average, atol=1e-6)
    last = load_checkpoint(out / LAST)
    assert torch.equal(last["model"]["weight"], ema_model.weight)
    assert torch.allclose(last["trained_model"]["weight"], trained[-1], atol=1e-6)
    assert last["ema_updates"] == 40


def test_resume_with_ema_continues_bit_for_bit(tmp_path):
    full, _, _ = _fit(tmp_path, "full", ema=0.9)
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, "part", task=ToyTask(crash_at=17), ema=0.9)
    resumed, _, _ = _fit(
        tmp_path, "part", resume=load_checkpoint(tmp_path / "part" / LAST), ema=0.9
    )
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(
        load_checkpoint(tmp_path / "full" / BEST)["model"]["weight"],
        load_checkpoint(tmp_path / "part" / BEST)["model"]["weight"],
    )


def test_resume_on_a_machine_whose_precision_auto_differs_says_so(tmp_path, monkeypatch):
    """--precision auto resolves per machine: a checkpoint records what it resolved to, and a
    resume where it resolves otherwise says so (the continuation cannot be bit for bit)."""
    monkeypatch.setattr(autotune, "native_bf16", lambda: True)
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, "part", task=ToyTask(crash_at=17), precision="auto")
    ckpt = load_checkpoint(tmp_path / "part" / LAST)
    assert ckpt["training_dtype"] == "bfloat16"
    said: list[str] = []
    _fit(tmp_path, "part", resume=ckpt, precision="auto", log=said.append)  # same machine
    assert not [m for m in said if m.startswith("--resume")]
    monkeypatch.setattr(autotune, "native_bf16", lambda: False)  # another machine
    _fit(tmp_path, "again", resume=ckpt, precision="auto", log=said.append)
    assert [m for m in said if m.startswith("--resume")] == [
        "--resume: the run's steps so far ran in bfloat16, here they run in float32 "
        "(--precision auto on this machine): the continuation is not bit for bit what one "
        "machine would have trained"
    ]
