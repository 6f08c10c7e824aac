"""rnnkit::infer_stack (engine/native/infer_op.py): torch.library.opcheck for every cell with a
native kernel, and a no-grad model under torch.compile / torch.export running it (one graph,
no recompilation for new B and T) bit for bit equal to eager, which runs the same C++ call."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend
from torch.export import Dim

from helpers import max_rel_err
from rnnkit.engine.native import compiler_available, infer_op
from rnnkit.layers.registry import make_layer

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")

CELLS = [("rnn", {}), ("rnn_relu", {}), ("lstm", {}), ("lstm", {"proj_size": 3}), ("gru", {}),
         ("layernorm_lstm", {}), ("layernorm_gru", {}), ("peephole_lstm", {}),
         ("indrnn", {})]  # fmt: skip
IDS = [cell + ("_proj" if options else "") for cell, options in CELLS]


def _layer(cell: str, options: dict, bias: bool = True):
    torch.manual_seed(0)
    layer = make_layer(cell, 4, 6, num_layers=2, bidirectional=True, bias=bias, **options)
    with torch.no_grad():  # the peephole weights start at zero: make them count
        for p in layer.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return layer.eval()


@pytest.mark.parametrize(("cell", "options"), CELLS, ids=IDS)
@pytest.mark.parametrize("states", [False, True])
def test_infer_stack_passes_opcheck(cell, options, states):
    layer = _layer(cell, options, bias=not states).double()
    T, B = 5, 3
    x = torch.randn(T, B, 4, dtype=torch.float64)
    h0 = torch.randn(4, B, layer.proj_size or 6, dtype=torch.float64)
    c0 = torch.randn(4, B, 6, dtype=torch.float64) if layer.cell.extra_states else None
    layers = [layer.layer_weights(k) for k in range(4)]
    flat = [t.detach() for t in infer_op.flat_weights(layer.cell.name, layers, x)]
    args = (layer.cell.name, x, flat, 2, h0 if states else None, c0 if states else None, False)
    torch.library.opcheck(infer_op.infer_stack, args)
    y, h_n, c_n = infer_op.infer_stack(*args)
    with torch.no_grad():
        want_y, want = layer(x, None if not states else (h0 if c0 is None else (h0, c0)))
    assert torch.equal(y, want_y)
    assert torch.equal(h_n, want[0] if c0 is not None else want)
    assert (c0 is None and c_n.numel() == 0) or torch.equal(c_n, want[1])


@pytest.mark.parametrize(("cell", "options"), CELLS, ids=IDS)
def test_no_grad_model_compiles_to_the_inference_operator_equal_to_eager(cell, options):
    torch._dynamo.reset()
    layer = _layer(cell, options)
    counter = CompileCounterWithBackend("inductor")
    compiled = torch.compile(layer, backend=counter, fullgraph=True, dynamic=True)
    frames = []
    with torch.no_grad():
        for T, B in ((5, 3), (9, 2), (7, 5)):
            x = torch.randn(T, B, 4)
            (y, states), (want_y, want_states) = compiled(x), layer(x)
            assert max_rel_err(y, want_y) <= 1e-6
            pairs = zip(*(s if isinstance(s, tuple) else (s,) for s in (states, want_states)))
            assert all(max_rel_err(got, want) <= 1e-6 for got, want in pairs)
            frames.append(counter.frame_count)
    assert frames[0] == frames[-1], "recompiled for a new T or B"
    torch._dynamo.reset()


def test_export_under_no_grad_holds_the_inference_operator():
    layer = _layer("gru", {})
    dims = {0: Dim("T", max=4096), 1: Dim("B", max=512)}
    with torch.no_grad():
        program = torch.export.export(layer, (torch.randn(5, 3, 4),), dynamic_shapes=(dims,))
    graph = str(program.graph)
    assert "rnnkit.infer_stack" in graph and "rnnkit.projected_sweep" not in graph
    x = torch.randn(8, 5, 4)
    with torch.no_grad():
        (y, h_n), (want_y, want_h) = program.module()(x), layer(x)
    assert torch.equal(y, want_y) and torch.equal(h_n, want_h)
