"""The measured plan (engine/autotune.py): each bucket measured once on the call's own data,
the faster path kept, persisted per machine, never changing a result beyond rounding."""

from __future__ import annotations

import json

import pytest
import torch

import rnnkit
from helpers import assert_close, copy_weights
from rnnkit.engine import autotune, backends, engine_path, paths


class FakeClock:
    """A clock that a trial advances by its declared cost: measuring without wall time."""

    def __init__(self):
        self.now = 0.0
        self.runs: dict[str, int] = {}

    def __call__(self) -> float:
        return self.now

    def trial(self, name: str, seconds: float):
        def run():
            self.now += seconds
            self.runs[name] = self.runs.get(name, 0) + 1

        return run


def _forget_process_plan(monkeypatch):
    """What a new process starts with: nothing in memory, the file not yet read."""
    monkeypatch.setattr(autotune, "_table", {})
    monkeypatch.setattr(autotune, "_loaded", False)


def test_choose_measures_a_bucket_once_keeps_the_faster_and_persists_it(plan, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(autotune, "_clock", clock)
    trials = {"slow": clock.trial("slow", 0.02), "fast": clock.trial("fast", 0.01)}
    assert autotune.choose("k1", trials, "slow") == "fast"
    # a warm-up, then MEASURE_SECONDS / 0.02 s rounds each
    assert clock.runs == {"slow": 1 + 12, "fast": 1 + 12}
    assert autotune.choose("k1", trials, "slow") == "fast"
    assert clock.runs == {"slow": 13, "fast": 13}  # kept: not measured again
    saved = json.loads(autotune.cache_file().read_text())
    assert saved["entries"]["k1"] == {"path": "fast", "ms": {"slow": 20.0, "fast": 10.0}}
    assert saved["machine"] == autotune.machine()

    _forget_process_plan(monkeypatch)  # the next process reads it and measures nothing

    def refuse():
        raise AssertionError("measured again")

    assert autotune.choose("k1", {"slow": refuse, "fast": refuse}, "slow") == "fast"
    assert "k1" in autotune.entries()


def test_a_bucket_measured_on_a_busy_machine_is_kept_for_this_process_only(plan, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(autotune, "_clock", clock)
    monkeypatch.setattr(autotune, "_busy", lambda: True)
    assert autotune.choose("k", {"a": clock.trial("a", 1), "b": clock.trial("b", 2)}, "b") == "a"
    assert autotune.entries()["k"]["busy"] is True
    assert not autotune.cache_file().exists()  # the next process measures again
    monkeypatch.setattr(autotune, "_busy", lambda: False)
    autotune.choose("k2", {"a": clock.trial("a", 1), "b": clock.trial("b", 2)}, "b")
    assert set(json.loads(autotune.cache_file().read_text())["entries"]) == {"k2"}


def test_a_hopeless_candidate_leaves_the_race(plan, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(autotune, "_clock", clock)
    trials = {"a": clock.trial("a", 0.001), "b": clock.trial("b", 0.01)}
    assert autotune.choose("k", trials, "b") == "a"
    assert clock.runs["b"] == 2  # its warm-up and one round: 10x the best
    assert clock.runs["a"] == 1 + autotune.MAX_RUNS


def test_measuring_off_gives_the_default_and_writes_nothing(plan, monkeypatch):
    monkeypatch.setenv(autotune.ENV, "0")

    def refuse():
        raise AssertionError("measured")

    assert autotune.choose("k", {"a": refuse, "b": refuse}, "b") == "b"
    assert not list(plan.iterdir())


@pytest.mark.parametrize("content", ["not json", "[]", '{"machine": {}, "entries": 3}'])
def test_an_unreadable_plan_file_is_measured_again_and_rewritten(plan, monkeypatch, content):
    autotune.cache_file().parent.mkdir(parents=True, exist_ok=True)
    autotune.cache_file().write_text(content)
    clock = FakeClock()
    monkeypatch.setattr(autotune, "_clock", clock)
    assert autotune.choose("k", {"a": clock.trial("a", 1), "b": clock.trial("b", 2)}, "b") == "a"
    assert json.loads(autotune.cache_file().read_text())["entries"]["k"]["path"] == "a"


def test_reset_forgets_memory_and_file(plan, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(autotune, "_clock", clock)
    autotune.choose("k", {"a": clock.trial("a", 1), "b": clock.trial("b", 2)}, "b")
    autotune.reset()
    assert autotune.entries() == {} and not autotune.cache_file().exists()


def test_machine_names_cpu_flags_and_build():
    info = autotune.machine()
    assert info["cpu_model"] and info["torch"] == torch.__version__
    assert set(info["cpu_flags"]) <= set(autotune.SIMD_FLAGS)
    assert info["native_build"].startswith("rnnkit_native_")
    assert autotune.cache_file().name.startswith("plan-")


def test_bucket_rounds_batch_and_time_up_to_powers_of_two():
    layer = rnnkit.GRU(3, 5)

    def key(T, B, grad):
        captured = {}

        def choose(k, trials, default):
            captured["key"] = k
            return default

        with pytest.MonkeyPatch.context() as m:
            m.setattr(autotune, "choose", choose)
            with torch.set_grad_enabled(grad):
                layer(torch.randn(T, B, 3))
        return captured["key"]

    assert key(100, 33, True) == key(128, 64, True)
    assert key(100, 33, True) != key(100, 32, True) != key(100, 33, False)
    assert key(100, 33, True).startswith("gru|L1|D1|P0|bias1|I3|H5|B64|T128|float32|train|")


TWINS = {
    "lstm": (rnnkit.LSTM, torch.nn.LSTM, {}),
    "lstm_proj_2L_bi": (
        rnnkit.LSTM,
        torch.nn.LSTM,
        {"num_layers": 2, "bidirectional": True, "proj_size": 3},
    ),
    "gru_2L_bi": (rnnkit.GRU, torch.nn.GRU, {"num_layers": 2, "bidirectional": True}),
    "rnn_relu_nobias": (rnnkit.RNN, torch.nn.RNN, {"nonlinearity": "relu", "bias": False}),
}


@pytest.mark.parametrize("chosen", ["torch", "rnnkit"])
@pytest.mark.parametrize("twin", TWINS, ids=str)
def test_either_path_equals_torch_nn(plan, monkeypatch, twin, chosen):
    """Whatever the plan chose, outputs, final states and gradients are torch.nn's."""
    monkeypatch.setattr(autotune, "choose", lambda key, trials, default: chosen)
    cls, torch_cls, options = TWINS[twin]
    torch.manual_seed(0)
    ours = cls(4, 6, batch_first=True, **options)
    theirs = torch_cls(4, 6, batch_first=True, **options)
    copy_weights(ours, theirs)
    x = torch.randn(5, 7, 4, requires_grad=True)
    for grad in (False, True):  # the gradients below are of the last (grad) call
        with torch.set_grad_enabled(grad):
            got, want = ours(x), theirs(x)
        assert engine_path() == ("torch" if chosen == "torch" else "native")
        got_flat = [got[0], *(got[1] if isinstance(got[1], tuple) else (got[1],))]
        want_flat = [want[0], *(want[1] if isinstance(want[1], tuple) else (want[1],))]
        for a, b in zip(got_flat, want_flat):
            assert_close(a, b)
    loss = sum((t * t).sum() for t in got_flat)
    ref = sum((t * t).sum() for t in want_flat)
    g_ours = torch.autograd.grad(loss, [x, *ours.parameters()])
    g_theirs = torch.autograd.grad(ref, [x, *theirs.parameters()])
    for a, b in zip(g_ours, g_theirs):
        assert_close(a, b)


def test_measuring_a_call_changes_nothing_it_returns_or_draws(plan):
    """The first call of a bucket measures both paths on copies: no .grad touched, the random
    state as it was, the result the same as the kept path's next call."""
    torch.manual_seed(0)
    layer = rnnkit.GRU(4, 6, num_layers=2)
    x = torch.randn(5, 3, 4, requires_grad=True)
    rng = torch.get_rng_state()
    first = layer(x)[0]
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(p.grad is None for p in layer.parameters()) and x.grad is None
    assert len(autotune.entries()) == 1
    (entry,) = autotune.entries().values()
    assert set(entry["ms"]) == {"torch", "rnnkit"}
    second = layer(x)[0]
    assert torch.equal(first, second)  # the same path both times


def test_calls_with_dropout_or_on_other_backends_are_not_measured(plan, monkeypatch):
    def refuse(key, trials, default):
        raise AssertionError(f"measured {key}")

    monkeypatch.setattr(autotune, "choose", refuse)
    x = torch.randn(5, 3, 4)
    rnnkit.LSTM(4, 6, num_layers=2, dropout=0.5).train()(x)  # torch's masks would differ
    rnnkit.GRU(4, 6)(x, lengths=torch.tensor([5, 2, 3]))  # torch's kernel takes no lengths
    rnnkit.GRU(4, 6)(x[:, 0])  # unbatched
    rnnkit.LayerNormLSTM(4, 6)(x)  # no kernel in torch
    with rnnkit.use_backend("native"):
        rnnkit.LSTM(4, 6)(x)
    assert backends.last_path == "native" and "torch" in [b.name for b in paths.PLAN]
