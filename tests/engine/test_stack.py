"""The engine's one face: a layer's call is checked once, then the plan picks who runs it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.engine import engine_path, paths, stack, use_backend


class Spy:
    """Wraps a backend and records what it was asked."""

    def __init__(self, backend, declines: bool = False) -> None:
        self.backend, self.declines = backend, declines
        self.name = backend.name
        self.asked = self.ran = 0

    def accepts(self, call) -> bool:
        self.asked += 1
        return self.declines or self.backend.accepts(call)

    def run(self, call):
        self.ran += 1
        if self.declines:
            raise NotImplementedError("declined late")
        return self.backend.run(call)


@pytest.fixture
def spies(monkeypatch):
    """The plan's eager backends wrapped in spies (torch, native, layers)."""
    wrapped = tuple(Spy(b) for b in paths.PLAN if b.name != "traced")
    monkeypatch.setattr(stack, "_plan", wrapped)
    return wrapped


def test_the_plan_tries_torch_then_the_native_stack_then_layer_by_layer():
    """(after "traced", which takes calls only while torch.compile / export trace)"""
    assert [b.name for b in stack.plan()] == ["traced", "torch", "native", "layers"]


def test_a_plain_no_grad_call_takes_the_native_stack(spies):
    torch.manual_seed(0)
    gru = rnnkit.GRU(5, 7, num_layers=2, bidirectional=True)
    x = torch.randn(6, 3, 5)
    with torch.no_grad():
        y, h = gru(x)
    torch_kernel, native, layers = spies
    assert native.ran == 1 and layers.ran == 0 and torch_kernel.ran == 0
    with use_backend("fused"):
        y_ref, h_ref = gru(x)
    torch.testing.assert_close(y, y_ref.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h, h_ref.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ["grad", "lengths", "packed", "zoneout"])
def test_calls_the_fast_paths_cannot_take_run_layer_by_layer(spies, case):
    torch.manual_seed(0)
    gru = rnnkit.GRU(5, 7, zoneout=0.1 if case == "zoneout" else 0.0)
    x = torch.randn(6, 3, 5)
    lengths = torch.tensor([6, 4, 2])
    with torch.set_grad_enabled(case == "grad"):
        if case == "lengths":
            gru(x, lengths=lengths)
        elif case == "packed":
            gru(nn.utils.rnn.pack_padded_sequence(x, lengths))
        else:
            gru(x)
    _, native, layers = spies
    assert native.ran == 0 and layers.ran == 1


def test_lengths_that_all_equal_t_are_a_plain_batch(spies):
    gru = rnnkit.GRU(5, 7)
    x = torch.randn(6, 3, 5)
    with torch.no_grad():
        y, _ = gru(x, lengths=torch.tensor([6, 6, 6]))
        y_plain, _ = gru(x)
    assert spies[1].ran == 2 and spies[2].ran == 0
    torch.testing.assert_close(y, y_plain, rtol=0, atol=0)


def test_a_backend_that_declines_late_hands_the_call_to_the_next(monkeypatch):
    torch.manual_seed(0)
    lstm = rnnkit.LSTM(4, 6)
    x = torch.randn(5, 2, 4)
    with torch.no_grad():
        expected = lstm(x)
    refuser, layers = Spy(paths.PLAN[2], declines=True), Spy(paths.PLAN[3])
    monkeypatch.setattr(stack, "_plan", (refuser, layers))
    with torch.no_grad():
        y, (_, c) = lstm(x)
    assert refuser.ran == 1 and layers.ran == 1
    torch.testing.assert_close(y, expected[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c, expected[1][1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "bad",
    [
        {"hx": torch.zeros(1, 4, 6)},  # batch 4, input batch 2
        {"hx": torch.zeros(1, 2, 6, dtype=torch.float64)},
        {"x": torch.zeros(5, 2, 3)},  # feature size 3, layer's 4
        {"lengths": torch.tensor([6, 2])},  # longer than T = 5
    ],
)
def test_bad_input_is_refused_before_any_backend_is_asked(spies, bad):
    gru = rnnkit.GRU(4, 6)
    x = bad.get("x", torch.zeros(5, 2, 4))
    with torch.no_grad(), pytest.raises((TypeError, ValueError)):
        gru(x, bad.get("hx"), lengths=bad.get("lengths"))
    assert all(s.asked == 0 for s in spies)


def test_the_native_stack_keeps_derived_weights_until_a_parameter_is_replaced():
    torch.manual_seed(0)
    gru = rnnkit.GRU(3, 4)
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        first = paths.stack_weights(gru, 1)
        assert paths.stack_weights(gru, 1) is first
        gru.weight_hh_l0 = nn.Parameter(torch.randn(12, 4))
        assert paths.stack_weights(gru, 1) is not first
        y, _ = gru(x)
    with use_backend("reference"):
        y_ref, _ = gru(x)
    torch.testing.assert_close(y, y_ref.detach(), rtol=1e-5, atol=1e-6)


def test_indrnn_derives_its_clipped_weights_on_every_call():
    layer = rnnkit.IndRNN(3, 4, recurrent_max=0.5)
    assert layer.weights_key() is None
    assert rnnkit.GRU(3, 4).weights_key() is not None


@pytest.mark.parametrize("cls", [rnnkit.MinGRU, rnnkit.MinLSTM])
def test_minimal_cells_follow_the_selected_backend(cls):
    torch.manual_seed(0)
    layer = cls(3, 5, num_layers=2)
    x = torch.randn(7, 2, 3)
    with use_backend("reference"):
        y_loop, _ = layer(x)
        assert engine_path() == "min_loop"
    y_scan, _ = layer(x, mode="scan")
    assert engine_path() == "min_scan"
    torch.testing.assert_close(y_loop, y_scan, rtol=1e-5, atol=1e-6)
    with use_backend("native"):
        with pytest.raises(NotImplementedError, match="native backend has no loop"):
            layer(x)
        layer(x, mode="scan")  # the layer's own explicit choice still runs


def _full_checks(layer, x, hx):
    spec, w = layer.stack_spec(), layer.weight_ih_l0
    from rnnkit.engine.checks import check_states
    from rnnkit.engine.sequences import check_input

    checked = check_input(spec.owner, x, None, spec.input_size, spec.batch_first, w)
    return check_states(spec.owner, hx, spec.state_widths, spec.LD, checked.B, False, w)


@pytest.mark.parametrize(
    "case",
    ["none", "h", "one-tuple", "h-c", "h-c-list", "bad-batch", "float64", "batch-first", "2d"],
)
def test_the_quick_accept_of_plain_calls_takes_nothing_the_full_checks_refuse(case):
    lstm = case in ("h-c", "h-c-list")
    layer = (rnnkit.LSTM if lstm else rnnkit.GRU)(4, 6, batch_first=case == "batch-first")
    x = torch.randn(5, 3, 4)
    h, c = torch.zeros(1, 3, 6), torch.zeros(1, 3, 6)
    hx = {
        "h": h, "one-tuple": (h,), "h-c": (h, c), "h-c-list": [h, c],
        "bad-batch": torch.zeros(1, 2, 6), "float64": h.double(),
    }.get(case)  # fmt: skip
    if case == "2d":
        x = x[:, 0]
    spec, w = layer.stack_spec(), layer.weight_ih_l0
    quick = stack._plain_call(spec, layer, x, hx, None, layer.stack_noise(), w, False)
    try:
        full = _full_checks(layer, x, hx)
    except (TypeError, ValueError):
        assert quick is None
        return
    if quick is not None:
        assert (quick.states is None) == (full is None)
        if full is not None:
            assert all(a is b for a, b in zip(quick.states, full))


def test_a_layer_changed_after_its_first_call_is_described_anew():
    torch.manual_seed(0)
    gru = rnnkit.GRU(4, 6)
    x = torch.randn(5, 3, 4)
    with torch.no_grad():
        y, _ = gru(x)
        gru.batch_first = True
        y_bf, _ = gru(x.transpose(0, 1))
    torch.testing.assert_close(y_bf.transpose(0, 1), y)
    assert gru.stack_spec().batch_first


def test_a_pickled_layer_carries_no_engine_description():
    import io
    import pickle

    gru = rnnkit.GRU(4, 6)
    x = torch.randn(5, 3, 4)
    y, _ = gru(x)
    assert "_stack_spec" in gru.__dict__
    buffer = io.BytesIO()
    torch.save(gru, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert "_stack_spec" not in loaded.__dict__ and "_stack_spec" in gru.__dict__
    torch.testing.assert_close(loaded(x)[0], y)
    assert "_stack_spec" not in pickle.loads(pickle.dumps(gru)).__dict__
