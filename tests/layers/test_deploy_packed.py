"""Layers called with a PackedSequence under torch.compile (engine/traced.py ``_packed``): one
graph with no graph break (torch.nn's own layers cannot: they break at their packed kernel), no
recompilation for new B and T, equal to eager and to torch.nn (outputs, final states in the
user's batch order, gradients); the cases it does not take in one graph still run, equal."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit
from helpers import max_rel_err
from rnnkit.engine.native import compiler_available
from rnnkit.layers.registry import make_layer

pytestmark = [
    pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH"),
    pytest.mark.usefixtures("fresh_dynamo"),  # (conftest.py)
]

TWINS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def _flat(result) -> list[torch.Tensor]:
    out, states = result
    return [out.data, *(states if isinstance(states, tuple) else (states,))]


def _states(layer, B: int):
    spec = layer.stack_spec()
    states = tuple(torch.randn(spec.LD, B, w) for w in spec.state_widths)
    return states[0] if len(states) == 1 else states


def _run_with_grads(layer, packed, hx):
    flat = _flat(layer(packed, hx))
    loss = sum((t * t).sum() for t in flat)
    return [*flat, *torch.autograd.grad(loss, list(layer.parameters()))]


def _packed(B: int, T: int, enforce_sorted: bool = False):
    x = torch.randn(T, B, 8, requires_grad=True)
    lengths = torch.randint(1, T + 1, (B,))
    lengths[0], lengths[-1] = T, 1
    if enforce_sorted:
        lengths = lengths.sort(descending=True).values
    return pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "layernorm_lstm", "peephole_lstm"])
def test_packed_compiles_in_one_graph_equal_eager_and_torch_nn(cell):
    torch.manual_seed(0)
    layer = make_layer(cell, 8, 6, num_layers=2, bidirectional=True)
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(layer, backend=counter, fullgraph=True, dynamic=True)
    twin = None
    if cell in TWINS:
        twin = TWINS[cell](8, 6, num_layers=2, bidirectional=True)
        twin.load_state_dict(layer.state_dict())
    frames = []
    for B, T in [(5, 7), (9, 11)]:
        packed, hx = _packed(B, T), _states(layer, B)
        got = _run_with_grads(compiled, packed, hx)
        for a, b in zip(got, _run_with_grads(layer, packed, hx)):
            assert max_rel_err(a, b) <= 1e-5
        if twin is not None:
            for a, b in zip(got, _run_with_grads(twin, packed, hx)):
                assert max_rel_err(a, b) <= 1e-5
        frames.append(counter.frame_count)
    # fullgraph: no graph break; the same count after a new B and T: no recompilation
    assert frames[0] == frames[-1], f"recompiled for a new B or T: frame counts {frames}"


def test_packed_output_keeps_the_sequences_indices_and_inductor_agrees():
    torch.manual_seed(1)
    layer = rnnkit.GRU(8, 6)
    compiled = torch.compile(layer, fullgraph=True, dynamic=True)
    packed = _packed(4, 6)
    out, h = compiled(packed)
    ref_out, ref_h = layer(packed)
    assert torch.equal(out.batch_sizes, packed.batch_sizes)
    assert torch.equal(out.sorted_indices, packed.sorted_indices)
    assert torch.equal(out.unsorted_indices, packed.unsorted_indices)
    assert max_rel_err(out.data, ref_out.data) <= 1e-5 and max_rel_err(h, ref_h) <= 1e-5


@pytest.mark.parametrize("case", ["enforce_sorted", "mingru"])
def test_packed_cases_outside_one_graph_still_run_equal_eager(case):
    """A sorted PackedSequence (B can only be read from batch_sizes' values) and a minimal cell
    (its scan works on the padded grid) leave the graph for eager: the results are the same."""
    torch.manual_seed(2)
    layer = make_layer("mingru" if case == "mingru" else "gru", 8, 6, bidirectional=True)
    compiled = torch.compile(layer, backend="aot_eager", dynamic=True)
    packed, hx = _packed(5, 7, enforce_sorted=case == "enforce_sorted"), _states(layer, 5)
    for a, b in zip(_run_with_grads(compiled, packed, hx), _run_with_grads(layer, packed, hx)):
        assert max_rel_err(a, b) <= 1e-5
