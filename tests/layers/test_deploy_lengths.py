"""Layers called with ``lengths=`` under torch.compile and torch.export (engine/traced.py): one
graph with no graph break, no recompilation for new B and T, equal to eager (outputs, final
states and gradients) and to torch.nn on pack_padded_sequence; the reverse direction starts at
each sequence's last true step."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend
from torch.export import Dim
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from helpers import max_rel_err
from rnnkit.engine.native import compiler_available

pytestmark = [
    pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH"),
    pytest.mark.usefixtures("fresh_dynamo"),  # (conftest.py)
]


class Stack(torch.nn.Module):
    """An embedding, then three bidirectional layers called with lengths (a 2-layer LSTM, a GRU,
    a MinGRU: the operator path with and without c, and the minimal cells' scan), every final
    state returned."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(20, 8)
        self.lstm = rnnkit.LSTM(8, 6, num_layers=2, bidirectional=True, batch_first=True)
        self.gru = rnnkit.GRU(12, 5, bidirectional=True, batch_first=True)
        self.mingru = rnnkit.MinGRU(10, 3, bidirectional=True, batch_first=True)

    def forward(self, tokens, lengths):
        y, (h, c) = self.lstm(self.embed(tokens), lengths=lengths)
        y, h2 = self.gru(y, lengths=lengths)
        y, h3 = self.mingru(y, lengths=lengths)
        return y, h, c, h2, h3


def _torch_twin(model: Stack):
    """torch.nn's LSTM and GRU with the model's weights, run on packed sequences."""
    lstm = torch.nn.LSTM(8, 6, num_layers=2, bidirectional=True, batch_first=True)
    gru = torch.nn.GRU(12, 5, bidirectional=True, batch_first=True)
    lstm.load_state_dict(model.lstm.state_dict())
    gru.load_state_dict(model.gru.state_dict())

    def run(tokens, lengths):
        packed = pack_padded_sequence(model.embed(tokens), lengths, True, enforce_sorted=False)
        y, (h, c) = lstm(packed)
        y, h2 = gru(y)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=tokens.shape[1])
        return y, h, c, h2

    return run


def _outputs_and_grads(model, tokens, lengths):
    outs = model(tokens, lengths)
    loss = sum((o * o).sum() for o in outs)
    return [*outs, *torch.autograd.grad(loss, list(model.parameters()))]


def test_lengths_compile_in_one_graph_equal_eager_and_torch_packed_without_recompiling():
    torch.manual_seed(0)
    model = Stack()
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(model, backend=counter, fullgraph=True, dynamic=True)
    twin = _torch_twin(model)
    frames = []
    # B and T unlike the model's sizes (duck sizing would tie them); lengths 1 and T included
    for B, T in [(7, 9), (11, 13)]:
        tokens = torch.randint(0, 20, (B, T))
        lengths = torch.randint(1, T + 1, (B,))
        lengths[0], lengths[-1] = 1, T
        got = _outputs_and_grads(compiled, tokens, lengths)
        for a, b in zip(got, _outputs_and_grads(model, tokens, lengths)):
            assert max_rel_err(a, b) <= 1e-5
        frames.append(counter.frame_count)
        with torch.no_grad():
            # the GRU's output before the MinGRU is not returned: compare what is
            _, h, c, h2 = twin(tokens, lengths)
        for a, b in zip(got[1:4], (h, c, h2)):
            assert max_rel_err(a, b) <= 1e-5
    assert frames[0] == frames[-1], "recompiled for a new T or B"
    y, *states = got[:5]
    for b in (0, 1, B - 1):  # each sequence as if alone: its padding changes nothing
        n = int(lengths[b])
        with torch.no_grad():
            y_b, *states_b = model(tokens[b : b + 1, :n], None)
        assert max_rel_err(y[b : b + 1, :n], y_b) <= 1e-5 and not y[b, n:].any()
        for s, s_b in zip(states, states_b):
            assert max_rel_err(s[:, b : b + 1], s_b) <= 1e-5


def test_export_with_lengths_and_dynamic_b_and_t_equals_eager():
    torch.manual_seed(0)
    model = Stack().eval()
    B, T = Dim("B", min=1, max=64), Dim("T", min=2, max=512)
    example = (torch.randint(0, 20, (3, 6)), torch.tensor([6, 2, 4]))
    program = torch.export.export(model, example, dynamic_shapes=({0: B, 1: T}, {0: B}))
    assert "rnnkit.projected_sweep" in str(program.graph)
    for b, t in [(2, 11), (5, 3)]:
        tokens, lengths = torch.randint(0, 20, (b, t)), torch.randint(1, t + 1, (b,))
        with torch.no_grad():
            for got, want in zip(program.module()(tokens, lengths), model(tokens, lengths)):
                assert max_rel_err(got, want) <= 1e-5
