"""rnnkit.export.to_onnx: rnnkit's RNN / LSTM / GRU become ONNX's own operators; onnxruntime's
outputs equal the model's for other batch sizes and lengths than the example's; a missing
directory is refused. (The other cells, LSTM proj_size and zoneout, exported as a Loop over
time, and what is still refused: tests/test_export_loop.py.)"""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.errors import RnnkitError
from rnnkit.export import to_onnx

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")


class Tagger(torch.nn.Module):
    def __init__(self, layer: torch.nn.Module, width: int):
        super().__init__()
        self.embed, self.rnn = torch.nn.Embedding(30, 4), layer
        self.head = torch.nn.Linear(width, 3)

    def forward(self, tokens):
        y, _ = self.rnn(self.embed(tokens))
        return self.head(y)


CASES = {
    "lstm_1L": (rnnkit.LSTM, {}),
    "lstm_3L_bi": (rnnkit.LSTM, {"num_layers": 3, "bidirectional": True}),
    "gru_2L_bi": (rnnkit.GRU, {"num_layers": 2, "bidirectional": True}),
    "gru_nobias": (rnnkit.GRU, {"bias": False}),
    "rnn_relu_2L": (rnnkit.RNN, {"nonlinearity": "relu", "num_layers": 2}),
}


@pytest.mark.parametrize("case", CASES)
def test_onnxruntime_equals_the_model_at_new_batch_and_time_sizes(case, tmp_path):
    cls, options = CASES[case]
    torch.manual_seed(0)
    layer = cls(4, 6, batch_first=True, **options)
    model = Tagger(layer, 6 * (2 if options.get("bidirectional") else 1)).eval()
    path = to_onnx(model, (torch.randint(0, 30, (2, 5)),), tmp_path / "m.onnx")
    graph = onnx.load(str(path)).graph
    assert {n.op_type for n in graph.node} & {"RNN", "LSTM", "GRU"} == {cls.__name__}
    if cls is rnnkit.GRU:
        (node,) = [n for n in graph.node if n.op_type == "GRU"][:1]
        assert {a.name: a.i for a in node.attribute}["linear_before_reset"] == 1
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for B, T in [(1, 1), (3, 11), (7, 4)]:
        tokens = torch.randint(0, 30, (B, T))
        (got,) = session.run(None, {"input0": tokens.numpy()})
        with torch.no_grad():
            want = model(tokens)
        assert abs(torch.from_numpy(got) - want).max() <= 1e-5 * want.abs().max()


def test_a_bare_layer_exports_with_its_states(tmp_path):
    torch.manual_seed(0)
    layer = rnnkit.LSTM(4, 6, num_layers=2).eval()
    path = to_onnx(layer, (torch.randn(5, 2, 4),), tmp_path / "lstm.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(9, 3, 4)
    y, h, c = session.run(None, {"input0": x.numpy()})
    with torch.no_grad():
        want_y, (want_h, want_c) = layer(x)
    for got, want in ((y, want_y), (h, want_h), (c, want_c)):
        assert abs(torch.from_numpy(got) - want).max() <= 1e-5


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(RnnkitError, match="does not exist"):
        to_onnx(rnnkit.GRU(4, 6), (torch.randn(5, 2, 4),), tmp_path / "no" / "m.onnx")


class Lengths(torch.nn.Module):
    """A layer called with lengths; returns the output and the final h (or only h)."""

    def __init__(self, layer: torch.nn.Module, only_h: bool):
        super().__init__()
        self.rnn, self.only_h = layer, only_h

    def forward(self, x, lengths):
        y, state = self.rnn(x, lengths=lengths)
        h = state[0] if isinstance(state, tuple) else state
        return h if self.only_h else (y, *(state if isinstance(state, tuple) else (state,)))


LENGTH_CASES = {
    "lstm_1L_only_h": (rnnkit.LSTM, {}, True),  # nothing reads the output
    "lstm_2L_bi": (rnnkit.LSTM, {"num_layers": 2, "bidirectional": True}, False),
    "gru_1L_bi_only_h": (rnnkit.GRU, {"bidirectional": True}, True),
    "rnn_3L": (rnnkit.RNN, {"num_layers": 3}, False),
}


@pytest.mark.parametrize("case", LENGTH_CASES)
def test_lengths_become_sequence_lens_and_onnxruntime_equals_the_model(case, tmp_path):
    cls, options, only_h = LENGTH_CASES[case]
    torch.manual_seed(0)
    model = Lengths(cls(4, 6, batch_first=True, **options), only_h).eval()
    example = (torch.randn(3, 5, 4), torch.tensor([5, 2, 4]))
    path = to_onnx(model, example, tmp_path / "m.onnx", input_names=["x", "lengths"])
    nodes = [n for n in onnx.load(str(path)).graph.node if n.op_type == cls.__name__]
    assert nodes and all(n.input[4] for n in nodes), "no sequence_lens"
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for B, T in [(4, 9), (1, 3), (6, 2)]:
        x, lengths = torch.randn(B, T, 4), torch.randint(1, T + 1, (B,))
        lengths[0] = max(1, T - 1)  # one sequence shorter than T, at least
        got = session.run(None, {"x": x.numpy(), "lengths": lengths.numpy()})
        with torch.no_grad():
            want = model(x, lengths)
        for a, b in zip(got, want if isinstance(want, tuple) else (want,)):
            assert abs(torch.from_numpy(a) - b).max() <= 1e-5 * b.abs().max()
