"""torch's oneDNN LSTM layer as operators (engine/onednn.py): opcheck, equality with torch.nn.LSTM
(outputs and gradients, both directions), and the compiled stack on them where the plan chose
torch's kernel: no graph break, no recompile when T or B changes, equal to eager."""

from __future__ import annotations

import pytest
import torch
from torch.profiler import profile

import rnnkit
from helpers import max_rel_err
from rnnkit.engine import autotune, onednn

pytestmark = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="torch was built without oneDNN"
)

T, B, I, H = 6, 3, 4, 5


def _args(reverse: bool, grad: bool):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(I, H)
    x = torch.randn(T, B, I)
    h0, c0 = torch.randn(B, H), torch.randn(B, H)
    w = [p.detach().clone() for p in lstm._flat_weights]
    leaves = [t.requires_grad_(grad) for t in (x, *w, h0, c0)]
    x, W_ih, W_hh, b_ih, b_hh, h0, c0 = leaves
    return lstm, (x, W_ih, W_hh, b_ih, b_hh, h0, c0, reverse, grad)


# opcheck's AOT-dispatch test compares every output of two runs: the kernel leaves bytes of its
# workspace unwritten (scratch), so two runs' workspaces differ; the compiled tests below check
# what that test would (outputs and gradients equal to eager under AOT autograd). Its schema
# test sees the backward write scratch into the workspace (not declared: see onednn.py), which
# test_a_second_backward_from_one_workspace_gives_the_same_gradients covers.
OPCHECKS = ("test_schema", "test_autograd_registration", "test_faketensor")
BACKWARD_OPCHECKS = ("test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic")


@pytest.mark.parametrize("reverse", [False, True])
def test_onednn_lstm_passes_opcheck(reverse):
    _, args = _args(reverse, grad=True)
    torch.library.opcheck(onednn.onednn_lstm, args, test_utils=OPCHECKS)
    with torch.no_grad():
        y, h_n, c_n, work = onednn.onednn_lstm(*args)
    x, W_ih, W_hh, b_ih, b_hh, h0, c0 = (t.detach() for t in args[:7])
    dy, dh, dc = torch.randn_like(y), torch.randn_like(h_n), None
    backward = (x, W_ih, W_hh, b_ih, b_hh, h0, c0, y, h_n, c_n, dy, dh, dc, work, reverse)
    torch.library.opcheck(onednn.onednn_lstm_backward, backward, test_utils=BACKWARD_OPCHECKS)


@pytest.mark.parametrize("reverse", [False, True])
def test_onednn_lstm_equals_torch_nn_lstm_outputs_and_gradients(reverse):
    lstm, args = _args(reverse, grad=True)
    x, *_, h0, c0 = args[:7]
    y, h_n, c_n, _ = onednn.onednn_lstm(*args)
    # torch.nn.LSTM's reverse direction is the forward one on the time-flipped input
    xr = x.flip(0) if reverse else x
    ref, (rh, rc) = lstm(xr, (h0.unsqueeze(0), c0.unsqueeze(0)))
    ref = ref.flip(0) if reverse else ref
    assert max_rel_err(y, ref) < 1e-6
    assert max_rel_err(h_n, rh[0]) < 1e-6 and max_rel_err(c_n, rc[0]) < 1e-6
    gy, gh = torch.randn_like(y), torch.randn_like(h_n)  # c_n unused: its gradient missing
    ours = torch.autograd.grad((y * gy).sum() + (h_n * gh).sum(), [x, *args[1:7]])
    theirs = torch.autograd.grad(
        (ref * gy).sum() + (rh[0] * gh).sum(), [x, *lstm._flat_weights, h0, c0]
    )
    for a, b in zip(ours, theirs):
        assert max_rel_err(a, b) < 1e-5


def test_a_second_backward_from_one_workspace_gives_the_same_gradients():
    _, args = _args(False, grad=False)
    y, h_n, c_n, work = onednn.onednn_lstm(*args[:-1], True)
    untouched = work.clone()
    dy = torch.randn_like(y)
    first = onednn.onednn_lstm_backward(*args[:7], y, h_n, c_n, dy, None, None, work, False)
    again = onednn.onednn_lstm_backward(*args[:7], y, h_n, c_n, dy, None, None, work, False)
    fresh = onednn.onednn_lstm_backward(*args[:7], y, h_n, c_n, dy, None, None, untouched, False)
    for a, b, c in zip(first, again, fresh):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_the_two_bias_gradients_are_tensors_of_their_own():
    _, args = _args(False, grad=True)
    for _ in range(2):  # the second backward accumulates into each .grad
        y, h_n, _, _ = onednn.onednn_lstm(*args)
        (y.sum() + h_n.sum()).backward()
    b_ih, b_hh = args[3], args[4]
    assert b_ih.grad.data_ptr() != b_hh.grad.data_ptr()
    assert torch.equal(b_ih.grad, b_hh.grad)
    y, h_n, _, _ = onednn.onednn_lstm(*args)
    once = torch.autograd.grad(y.sum() + h_n.sum(), b_ih)[0]
    assert max_rel_err(b_ih.grad, 2 * once) < 1e-6


def test_onednn_lstm_needs_train_for_a_backward():
    _, args = _args(False, grad=True)
    with pytest.raises(RuntimeError, match="train=True"):
        onednn.onednn_lstm(*args[:-1], False)


class _Tagger(torch.nn.Module):
    def __init__(self, bidirectional: bool, layers: int) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.embed = torch.nn.Embedding(20, I)
        self.rnn = rnnkit.LSTM(I, H, layers, batch_first=True, bidirectional=bidirectional)

    def forward(self, tokens, h0, c0):
        y, (h_n, c_n) = self.rnn(self.embed(tokens), (h0, c0))
        return y, h_n, c_n


def _ran(fn, *args) -> set[str]:
    """The names of the operators ``fn(*args)`` ran."""
    with profile() as prof:
        fn(*args)
    return {e.key for e in prof.key_averages()}


def _run(model, tokens, states):
    """Outputs and the gradients of every parameter and initial state."""
    states = tuple(s.clone().requires_grad_() for s in states)
    y, h_n, c_n = model(tokens, *states)
    loss = y.square().sum() + h_n.sum() + (c_n * 0.5).sum()
    return (y, h_n, c_n), torch.autograd.grad(loss, [*model.parameters(), *states])


@pytest.mark.parametrize(("bidirectional", "layers"), [(False, 1), (True, 2)])
def test_compiled_lstm_runs_torch_kernel_where_the_plan_chose_it(plan, bidirectional, layers):
    model, D = _Tagger(bidirectional, layers), 2 if bidirectional else 1
    spec_key, threads = f"lstm|L{layers}|D{D}|P0|bias1|I{I}|H{H}", torch.get_num_threads()
    for mode in ("train", "infer"):
        for b, t in ((4, 8), (32, 64)):  # two buckets of the spec, both torch's
            key = f"{spec_key}|B{b}|T{t}|float32|{mode}|threads{threads}"
            autotune._table[key] = {"path": "torch", "ms": {"torch": 1.0, "rnnkit": 2.0}}
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    counters = torch._dynamo.utils.counters
    counters.clear()
    for b, t in ((3, 7), (5, 11)):  # T and B change: the same graphs
        tokens = torch.randint(0, 20, (b, t))
        states = tuple(torch.randn(layers * D, b, H) for _ in range(2))
        with rnnkit.use_backend("reference"):
            ref, ref_grads = _run(model, tokens, states)
        ran = _ran(_run, compiled, tokens, states)
        assert {"rnnkit::onednn_lstm", "rnnkit::onednn_lstm_backward"} <= ran
        outs, grads = _run(compiled, tokens, states)
        for a, r in zip((*outs, *grads), (*ref, *ref_grads)):
            assert max_rel_err(a, r) < 1e-5
        with torch.no_grad():
            assert "rnnkit::onednn_lstm" in _ran(compiled, tokens, *states)
            y = compiled(tokens, *states)[0]
        assert max_rel_err(y, ref[0]) < 1e-5
    assert counters["stats"]["unique_graphs"] == 2  # with autograd and without


def test_compiled_lstm_stays_on_ours_without_a_plan_for_it(plan):
    model = _Tagger(False, 1)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    tokens, states = torch.randint(0, 20, (3, 7)), (torch.zeros(1, 3, H), torch.zeros(1, 3, H))
    ran = _ran(_run, compiled, tokens, states)
    assert "rnnkit::onednn_lstm" not in ran and "rnnkit::backward_sweep" in ran


def test_prevailing_counts_the_buckets_of_a_spec_at_any_batch_and_length(plan):
    spec = "lstm|L1|D1|P0|bias1|I4|H5"
    for b, path in ((4, "torch"), (8, "torch"), (16, "rnnkit")):
        entry = {"path": path, "ms": {}}
        autotune._table[f"{spec}|B{b}|T8|float32|train|threads1"] = entry
    autotune._table[f"{spec}|B4|T8|float32|train|threads1|team"] = {"path": "x", "ms": {}}
    assert autotune.prevailing(f"{spec}|float32|train|threads1", "rnnkit") == "torch"
    assert autotune.prevailing(f"{spec}|float32|infer|threads1", "rnnkit") == "rnnkit"
    autotune._table[f"{spec}|B32|T8|float32|train|threads1"] = {"path": "rnnkit", "ms": {}}
    assert autotune.prevailing(f"{spec}|float32|train|threads1", "rnnkit") == "rnnkit"  # a tie
