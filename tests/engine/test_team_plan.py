"""The team sub-plan (engine/paths.py: _team_cap): where a sweep could get a team of threads,
the plan measures the call with a team and on its calling thread alone, keeps the faster per
shape bucket, and the native sweeps (forward, backward, no-grad stack) follow it; results do
not depend on it."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from helpers import assert_close
from rnnkit.engine import autotune
from rnnkit.engine.native import build, team_cap


@pytest.fixture
def plan(plan):
    """The engine tests' plan (measuring on, a fresh plan file), on 2 threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield plan
    torch.set_num_threads(threads)


@pytest.fixture
def caps(monkeypatch):
    """The caps the sweeps were given, in order (the extension's set_team_cap, spied on)."""
    ext = build.load()
    given: list[int] = []
    real = ext.set_team_cap

    def spy(cap: int) -> int:
        given.append(cap)
        return real(cap)

    monkeypatch.setattr(ext, "set_team_cap", spy)
    return given


def _timed_as(ms: dict[str, float]):
    """_measure that reports ``ms`` for a race of those candidates (no wall time), and runs
    each trial once (so that they still run)."""
    real = autotune._measure

    def measure(trials):
        if set(trials) != set(ms):
            return real(trials)
        for trial in trials.values():
            trial()
        return dict(ms)

    return measure


# a sweep of T·B·G·P = 100·32·3·256·256 = 6.3e8 multiply-adds: a team could form
BIG = {"batch": 32, "steps": 100, "hidden": 256}


@pytest.mark.parametrize("grad", [True, False], ids=["train", "infer"])
def test_the_faster_of_team_and_one_thread_is_kept_and_the_sweeps_follow_it(
    plan, monkeypatch, caps, grad
):
    monkeypatch.setattr(autotune, "_measure", _timed_as({"team": 2.0, "one thread": 1.0}))
    layer = rnnkit.GRU(32, BIG["hidden"])
    x = torch.randn(BIG["steps"], BIG["batch"], 32, requires_grad=grad)
    with rnnkit.use_backend("native"), torch.set_grad_enabled(grad):
        caps.clear()
        y, _ = layer(x)
        (key,) = [k for k in autotune.entries() if k.endswith("|team")]
        assert autotune.entries()[key] == {"path": "one thread",
                                           "ms": {"team": 2.0, "one thread": 1.0}}  # fmt: skip
        caps.clear()  # the call after the measurement: capped to its thread, then restored
        y, _ = layer(x)
        assert caps == [1, 0]
        if grad:
            caps.clear()
            y.sum().backward()
            assert caps == [1, 0]  # the backward keeps its forward's cap


def test_a_team_that_measured_faster_runs_uncapped(plan, monkeypatch, caps):
    monkeypatch.setattr(autotune, "_measure", _timed_as({"team": 1.0, "one thread": 2.0}))
    layer = rnnkit.LSTM(32, BIG["hidden"])
    x = torch.randn(BIG["steps"], BIG["batch"], 32, requires_grad=True)
    with rnnkit.use_backend("native"):
        layer(x)[0].sum().backward()
        caps.clear()
        layer(x)[0].sum().backward()
    assert caps == []  # no cap set around any sweep
    assert [e["path"] for k, e in autotune.entries().items() if k.endswith("|team")] == ["team"]


def test_calls_no_team_could_run_are_not_measured(plan, monkeypatch):
    measured: list[str] = []
    real = autotune.choose

    def spy(key, trials, default):
        measured.append(key)
        return real(key, trials, default)

    monkeypatch.setattr(autotune, "choose", spy)
    with rnnkit.use_backend("native"):
        rnnkit.GRU(8, 16)(torch.randn(20, 4, 8))  # 20·4·48·16: far below a team's size
        torch.set_num_threads(1)
        rnnkit.GRU(32, 256)(torch.randn(100, 32, 32))  # one thread: no team to plan
        torch.set_num_threads(2)
    with rnnkit.use_backend("fused"):
        rnnkit.GRU(32, 256)(torch.randn(100, 32, 32))  # no native sweep
    assert not [k for k in measured if k.endswith("|team")]


@pytest.mark.parametrize("cell", ["gru", "lstm", "layernorm_lstm"])
def test_results_do_not_depend_on_the_cap(forced_team, cell):
    """A sweep shared by a team (forced) and the same sweep on one thread: equal in float64,
    outputs and gradients, training and no-grad."""
    classes = {"gru": rnnkit.GRU, "lstm": rnnkit.LSTM, "layernorm_lstm": rnnkit.LayerNormLSTM}
    torch.manual_seed(0)
    layer = classes[cell](6, 64, num_layers=2, bidirectional=True).double()
    x = torch.randn(9, 8, 6, dtype=torch.float64, requires_grad=True)
    forced_team(2, 2)  # a row team wherever the sweep allows one
    results = []
    for cap in (0, 1):
        with rnnkit.use_backend("native"), team_cap(cap):
            y, states = layer(x)
            grads = torch.autograd.grad((y * y).sum(), [x, *layer.parameters()])
            with torch.no_grad():
                y_infer, _ = layer(x)
        states = states if isinstance(states, tuple) else (states,)
        results.append([y, *states, *grads, y_infer])
    for a, b in zip(*results):
        assert_close(a, b)  # float64: 1e-10


def test_a_choice_asked_inside_a_trial_gets_its_default_unkept(plan):
    inner: list[str] = []

    def trial():
        inner.append(autotune.choose("inner", {"a": lambda: None, "b": lambda: None}, "b"))

    autotune.choose("outer", {"x": trial, "y": lambda: None}, "x")
    assert inner and set(inner) == {"b"}
    assert "inner" not in autotune.entries() and "outer" in autotune.entries()
