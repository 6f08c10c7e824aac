"""Optimizers by name and the warm-up + cosine / step / constant learning-rate schedules."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

from rnnkit.train import TrainConfig, build_optimizer, build_scheduler, lr_factor


@pytest.mark.parametrize(
    "name, cls",
    [
        ("adam", torch.optim.Adam),
        ("adamw", torch.optim.AdamW),
        ("rmsprop", torch.optim.RMSprop),
        ("sgd", torch.optim.SGD),
    ],
)
def test_build_optimizer_by_name(name, cls):
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(3))], TrainConfig(optimizer=name, lr=0.1))
    assert isinstance(opt, cls) and opt.param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("name, cls", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)])
def test_adam_runs_fused_and_updates_as_torch_s_default_does(name, cls):
    """The fused kernel where every parameter is a dense float tensor on one device type: the
    same updates as torch's default (foreach) Adam over ten steps, to float32 rounding."""
    torch.manual_seed(0)
    start = [torch.randn(7, 5), torch.randn(5)]
    ours = [torch.nn.Parameter(t.clone()) for t in start]
    theirs = [torch.nn.Parameter(t.clone()) for t in start]
    cfg = TrainConfig(optimizer=name, lr=0.01, weight_decay=0.1)
    opt = build_optimizer(ours, cfg)
    ref = cls(theirs, lr=0.01, weight_decay=0.1, foreach=True)
    assert opt.param_groups[0]["fused"] is True
    for _ in range(10):
        grads = [torch.randn_like(t) for t in start]
        for params, o in ((ours, opt), (theirs, ref)):
            for q, g in zip(params, grads):
                q.grad = g.clone()
            o.step()
    for a, b in zip(ours, theirs):
        assert (a - b).abs().max() <= 1e-6 * b.abs().max()


def test_warmup_is_linear_then_cosine_ends_at_min_ratio():
    cfg = TrainConfig(warmup=10, schedule="cosine", min_lr_ratio=0.1)
    assert lr_factor(0, 100, cfg) == pytest.approx(0.1)
    assert lr_factor(9, 100, cfg) == pytest.approx(1.0)
    assert lr_factor(10, 100, cfg) == pytest.approx(1.0)
    assert lr_factor(100, 100, cfg) == pytest.approx(0.1)
    values = [lr_factor(s, 100, cfg) for s in range(10, 101)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_step_schedule_multiplies_by_gamma():
    cfg = TrainConfig(warmup=0, schedule="step", step_size=5, gamma=0.5)
    assert [lr_factor(s, 100, cfg) for s in (0, 4, 5, 10)] == [1.0, 1.0, 0.5, 0.25]


def test_scheduler_follows_lr_factor_and_resumes_from_its_state():
    cfg = TrainConfig(lr=1.0, warmup=3, schedule="cosine")
    p = torch.nn.Parameter(torch.zeros(1))
    opt = build_optimizer([p], cfg)
    sched = build_scheduler(opt, cfg, 20)
    for _ in range(7):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(lr_factor(7, 20, cfg))
    opt2 = build_optimizer([p], dataclasses.replace(cfg))
    sched2 = build_scheduler(opt2, cfg, 20)
    sched2.load_state_dict(sched.state_dict())
    opt.step()
    sched.step()
    opt2.step()
    sched2.step()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


@pytest.mark.parametrize("clip", [0.0, 0.01])
def test_optimizer_step_clips_only_when_asked(clip):
    from rnnkit.train.optim import optimizer_step

    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    sgd = torch.optim.SGD([w], lr=1.0)
    optimizer_step((w * w).sum(), sgd, [w], clip)  # gradient 2w = (6, 8), norm 10
    step = torch.tensor([6.0, 8.0]) * (clip / 10 if clip else 1.0)
    torch.testing.assert_close(w.detach(), torch.tensor([3.0, 4.0]) - step)
