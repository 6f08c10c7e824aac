"""Layers under torch.compile and torch.export (engine/traced.py, engine/native/ops.py): the
whole model in one graph, no graph break, no recompilation when T or B changes, equal to eager
(outputs and gradients); an exported program with dynamic T and B that round-trips through
save / load; and tracing that would freeze the native loops refused loudly."""

from __future__ import annotations

import io

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend
from torch.export import Dim

import rnnkit
from helpers import max_rel_err
from rnnkit.engine import autotune
from rnnkit.engine.native import compiler_available
from rnnkit.errors import RnnkitError
from rnnkit.layers.registry import make_layer

pytestmark = [
    pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH"),
    pytest.mark.usefixtures("fresh_dynamo"),  # (conftest.py)
]

CELLS = ["rnn", "rnn_relu", "lstm", "gru", "layernorm_lstm", "layernorm_gru", "peephole_lstm",
         "indrnn", "indrnn_tanh", "mingru", "minlstm"]  # fmt: skip


class Tagger(torch.nn.Module):
    """Embedding, a 2-layer bidirectional recurrent stack from an initial state, a linear head."""

    def __init__(self, cell: str, **options):
        super().__init__()
        self.embed = torch.nn.Embedding(20, 8)
        self.rnn = make_layer(cell, 8, 12, num_layers=2, bidirectional=True,
                                     batch_first=True, **options)  # fmt: skip
        self.head = torch.nn.Linear(2 * (options.get("proj_size") or 12), 5)

    def forward(self, tokens, hx):
        y, _ = self.rnn(self.embed(tokens), hx)
        return self.head(y)


def _state(model: Tagger, B: int):
    widths = model.rnn.stack_spec().state_widths
    states = tuple(torch.randn(4, B, w) for w in widths)
    return states[0] if len(states) == 1 else states


def _grads(model, tokens, hx):
    out = model(tokens, hx)
    return [out, *torch.autograd.grad((out * out).sum(), list(model.parameters()))]


class EveryCell(torch.nn.Module):
    """Every registry cell's 2-layer bidirectional layer in a chain, each from an initial state,
    the LSTM with a projection last: one graph that holds them all (one compilation)."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(20, 8)
        widths = [8] + [24] * len(CELLS)
        self.layers = torch.nn.ModuleList(
            make_layer(cell, width, 12, num_layers=2, bidirectional=True, batch_first=True)
            for cell, width in zip(CELLS, widths)
        )
        self.layers.append(make_layer("lstm", 24, 12, num_layers=2, bidirectional=True,
                                      batch_first=True, proj_size=5))  # fmt: skip
        self.head = torch.nn.Linear(10, 3)

    def forward(self, tokens, states):
        x = self.embed(tokens)
        for layer, hx in zip(self.layers, states):
            x, _ = layer(x, hx)
        return self.head(x)

    def states(self, B: int) -> list:
        out = []
        for layer in self.layers:
            widths = layer.stack_spec().state_widths
            states = tuple(torch.randn(4, B, w) for w in widths)
            out.append(states[0] if len(states) == 1 else states)
        return out


def test_every_cell_compiles_fullgraph_equals_eager_and_does_not_recompile_for_new_t_or_b():
    torch.manual_seed(0)
    model = EveryCell()
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(model, backend=counter, fullgraph=True, dynamic=True)
    frames = []
    # B and T unlike every other size here (3, 4 = L·D, 5, 8, 10, 12, 20, 24): dynamo's duck
    # sizing would tie equal sizes together and recompile when they part
    for B, T in [(6, 7), (2, 9), (7, 11)]:
        tokens, states = torch.randint(0, 20, (B, T)), model.states(B)
        for got, want in zip(_grads(compiled, tokens, states), _grads(model, tokens, states)):
            assert max_rel_err(got, want) <= 1e-5
        frames.append(counter.frame_count)
    assert frames[0] == frames[-1], "recompiled for a new T or B"


def test_compile_with_inductor_trains_a_language_model():
    """The default backend: the sweeps stay operators, the rest is generated code."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(30, 8), rnnkit.GRU(8, 16, batch_first=True))
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    tokens = torch.randint(0, 30, (4, 6))
    got, want = compiled(tokens), model(tokens)
    for a, b in zip([got[0], got[1]], [want[0], want[1]]):
        assert max_rel_err(a, b) <= 1e-5
    g = torch.autograd.grad(got[0].sum(), list(model.parameters()))
    g_ref = torch.autograd.grad(want[0].sum(), list(model.parameters()))
    for a, b in zip(g, g_ref):
        assert max_rel_err(a, b) <= 1e-5


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_export_with_dynamic_t_and_b_runs_and_round_trips(cell):
    torch.manual_seed(0)
    model = Tagger(cell).eval()
    B, T = Dim("B", min=1, max=64), Dim("T", min=2, max=512)
    tokens = torch.randint(0, 20, (3, 5))
    program = torch.export.export(
        model, (tokens, _state(model, 3)),
        dynamic_shapes=({0: B, 1: T}, ({1: B}, {1: B}) if cell == "lstm" else {1: B}),
    )  # fmt: skip
    assert "rnnkit.projected_sweep" in str(program.graph)
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)  # a loader imports rnnkit first (it registers the ops)
    for b, t in [(2, 11), (5, 3)]:
        tokens, hx = torch.randint(0, 20, (b, t)), _state(model, b)
        with torch.no_grad():
            want = model(tokens, hx)
            for runner in (program.module(), loaded.module()):
                assert max_rel_err(runner(tokens, hx), want) <= 1e-5


def test_jit_trace_and_legacy_onnx_export_refuse_instead_of_freezing_a_constant():
    layer, x = rnnkit.LSTM(4, 6), torch.randn(5, 2, 4)
    with pytest.raises(RnnkitError, match="torch.export"):
        torch.jit.trace(layer, x)
    with pytest.raises(RnnkitError, match="dynamo=False"):
        torch.onnx.export(layer, (x,), io.BytesIO(), dynamo=False)
    with rnnkit.use_backend("reference"):  # a Python loop of torch ops traces (T fixed)
        traced = torch.jit.trace(layer, x, check_trace=False)
    assert max_rel_err(traced(x)[0], layer(x)[0]) <= 1e-5


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_compiles_fullgraph_under_autocast(cell):
    """Under autocast a layer compiles in one graph and runs what eager runs: its GEMMs and
    per-step products in bfloat16 where the CPU has it (the call carries the lowering to the
    operators), the recurrence in float32; outputs in eager's dtype and equal to eager's,
    gradients to float32 summation order (bias sums)."""
    torch.manual_seed(0)
    layer = make_layer(cell, 8, 12, num_layers=2, batch_first=True)
    x = torch.randn(3, 7, 8)
    compiled = torch.compile(layer, fullgraph=True, dynamic=True)
    with torch.autocast("cpu", torch.bfloat16):
        got, want = compiled(x)[0], layer(x)[0]
    assert got.dtype == want.dtype == (torch.bfloat16 if cell == "lstm" else torch.float32)
    assert max_rel_err(got.float(), want.float()) <= 1e-6
    if autotune.native_bf16():  # lowered: not what float32 GEMMs give
        assert max_rel_err(got.float(), compiled(x)[0]) > 1e-4
    grads = [torch.autograd.grad(y.float().square().sum(), list(layer.parameters()))
             for y in (got, want)]  # fmt: skip
    for g, r in zip(*grads, strict=True):
        assert max_rel_err(g, r) <= 1e-5
