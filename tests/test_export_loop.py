"""rnnkit.export.to_onnx of the layers ONNX has no operator for (every other registry cell, LSTM
proj_size, zoneout, cells of your own): an ONNX Loop over time of the cell's step
(rnnkit/export_loop.py). onnxruntime's outputs and final states equal the layer's (float32,
1e-5 relative) at other batch sizes and time lengths than the example's, with random unsorted
lengths, initial states, stacked and bidirectional; what still cannot be exported is refused
by name, and nothing is written."""

from __future__ import annotations

import copy

import pytest
import torch

import rnnkit
from helpers import max_rel_err
from rnnkit.errors import RnnkitError
from rnnkit.export import onnx_copy, to_onnx
from rnnkit.layers.registry import LAYERS, make_layer

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

STANDARD = {"rnn", "rnn_relu", "lstm", "gru"}  # ONNX's own RNN / LSTM / GRU operators


class Net(torch.nn.Module):
    """A layer called with lengths (where ``with_lengths``) and initial states (where given):
    returns its output and every final state."""

    def __init__(self, layer: torch.nn.Module, with_lengths: bool):
        super().__init__()
        self.rnn, self.with_lengths = layer, with_lengths

    def forward(self, x, *rest):
        lengths, states = (rest[0], rest[1:]) if self.with_lengths else (None, rest)
        hx = None if not states else states[0] if len(states) == 1 else states
        y, state = self.rnn(x, hx, lengths=lengths)
        return (y, *(state if isinstance(state, tuple) else (state,)))


def _inputs(layer, B: int, T: int, with_lengths: bool, with_state: bool, seed: int) -> list:
    """x, [lengths (B,) unsorted in [1, T], one shorter than T], [initial states]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((B, T) if layer.batch_first else (T, B), generator=g)
    inputs = [torch.randn(*x.shape, layer.input_size, generator=g)]
    if with_lengths:
        lengths = torch.randint(1, T + 1, (B,), generator=g)
        lengths[-1] = max(1, T - 2)
        inputs.append(lengths)
    if with_state:
        LD = layer.num_layers * (2 if layer.bidirectional else 1)
        inputs += [torch.randn(LD, B, w, generator=g) for w in layer.stack_spec().state_widths]
    return inputs


def _assert_runtime_equals_eager(model, path, inputs_at, op: str) -> None:
    """The file holds ``op`` (Loop, or ONNX's RNN operator); onnxruntime equals the model for
    batch and time sizes the example did not have."""
    assert op in {n.op_type for n in onnx.load(str(path)).graph.node}
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    for k, (B, T) in enumerate([(4, 9), (1, 3), (3, 1)]):
        inputs = inputs_at(B, T, 10 + k)
        got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})
        with torch.no_grad():
            want = model(*inputs)
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert max_rel_err(torch.from_numpy(a), b) <= 1e-5


CASES = {  # num_layers, bidirectional, lengths, initial states, batch_first
    "1L": (1, False, False, True, True),
    "2L_bi_lengths": (2, True, True, False, True),
    "1L_bi_time_major": (1, True, False, False, False),
    "2L_lengths_state": (2, False, True, True, False),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("cell", LAYERS)
def test_every_registry_cell_exports_and_onnxruntime_equals_the_layer(cell, case, tmp_path):
    L, bi, with_lengths, with_state, first = CASES[case]
    torch.manual_seed(0)
    layer = make_layer(cell, 3, 4, num_layers=L, bidirectional=bi, batch_first=first)
    model = Net(layer, with_lengths).eval()

    def inputs_at(B, T, seed):
        return _inputs(layer, B, T, with_lengths, with_state, seed)

    path = to_onnx(model, tuple(inputs_at(2, 5, 0)), tmp_path / "m.onnx")
    op = type(layer).__name__ if cell in STANDARD else "Loop"
    _assert_runtime_equals_eager(model, path, inputs_at, op)


PROJECTION_ZONEOUT = {
    "lstm_proj": (rnnkit.LSTM, {"proj_size": 2}),
    "lstm_proj_2L_bi": (rnnkit.LSTM, {"proj_size": 3, "num_layers": 2, "bidirectional": True}),
    "lstm_zoneout_2L": (rnnkit.LSTM, {"zoneout": (0.2, 0.1), "num_layers": 2}),
    "gru_zoneout_bi": (rnnkit.GRU, {"zoneout": 0.3, "bidirectional": True}),
    "rnn_zoneout": (rnnkit.RNN, {"zoneout": 0.2}),
}


@pytest.mark.parametrize("case", PROJECTION_ZONEOUT)
def test_lstm_projection_and_zoneout_export_as_a_loop(case, tmp_path):
    cls, options = PROJECTION_ZONEOUT[case]
    torch.manual_seed(0)
    layer = cls(3, 4, batch_first=True, **options)
    model = Net(layer, with_lengths=True).eval()

    def inputs_at(B, T, seed):
        return _inputs(layer, B, T, True, True, seed)

    path = to_onnx(model, tuple(inputs_at(2, 5, 0)), tmp_path / "m.onnx")
    assert not {"RNN", "LSTM", "GRU"} & {n.op_type for n in onnx.load(str(path)).graph.node}
    _assert_runtime_equals_eager(model, path, inputs_at, "Loop")


def _gated_step(gx, gh, h_prev, extra_prev, params):
    """A cell of one's own: two extra states, a parameter, gh apart."""
    (scale,) = params
    m_prev, n_prev = extra_prev
    H = h_prev.shape[1]
    a = torch.sigmoid(gx[:, :H] + gh[:, :H])
    m = a * m_prev + (1 - a) * torch.tanh(gx[:, H:] + gh[:, H:] * scale)
    n = torch.maximum(n_prev, m)
    return torch.tanh(m + n) * scale, (m, n), ()


def _prepare(gx, params):
    """Its input side: a layer norm of x·W_ihᵀ without a gain (sizes read from the tensor)."""
    return torch.nn.functional.layer_norm(gx, gx.shape[1:])


GATED = rnnkit.define_cell(
    "gated_test", 2, _gated_step, extra_states=2, split_hidden=True,
    params=(rnnkit.cells.ParamSpec("scale", 1, "ones"),), prepare_input=_prepare,
)  # fmt: skip


def test_a_cell_of_your_own_exports_as_a_loop(tmp_path):
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(GATED, 3, 4, num_layers=2, bidirectional=True, batch_first=True)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.startswith("scale"):
                p.uniform_(0.5, 1.5)
    model = Net(layer, with_lengths=True).eval()

    def inputs_at(B, T, seed):
        return _inputs(layer, B, T, True, True, seed)

    path = to_onnx(model, tuple(inputs_at(2, 5, 0)), tmp_path / "m.onnx")
    _assert_runtime_equals_eager(model, path, inputs_at, "Loop")


def _branching_step(gx, gh, h_prev, extra_prev, params):
    """A step whose Python branch reads a value: one trace cannot stand for it."""
    h = torch.tanh(gx)
    return (h if float(h.sum()) > 0 else -h), (), ()


def _size_branch_step(gx, gh, h_prev, extra_prev, params):
    """A step whose Python branch reads the batch size: frozen at the traced batch's."""
    return (torch.tanh(gx) if h_prev.shape[0] > 4 else torch.sigmoid(gx)), (), ()


class OwnForward(rnnkit.GRU):
    def forward(self, input, hx=None, lengths=None):
        y, h = super().forward(input, hx, lengths)
        return 2 * y, h


@pytest.mark.parametrize(
    ("layer", "says"),
    [
        (rnnkit.Recurrent(rnnkit.define_cell("branchy", 1, _branching_step), 3, 4),
         r"rnn \(Recurrent\).*reads a tensor.s value"),
        (rnnkit.Recurrent(rnnkit.define_cell("sized", 1, _size_branch_step), 3, 4),
         r"rnn \(Recurrent\).*step could not be traced"),
        (OwnForward(3, 4), r"rnn \(OwnForward\).*overrides forward"),
    ],
    ids=["value_branch", "size_branch", "own_forward"],
)  # fmt: skip
def test_what_cannot_be_a_loop_is_refused_by_name_and_nothing_is_written(layer, says, tmp_path):
    with pytest.raises(RnnkitError, match=says):
        to_onnx(Net(layer, False), (torch.randn(5, 2, 3),), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_an_operator_onnx_lacks_is_refused_in_one_line(tmp_path):
    def step(gx, gh, h_prev, extra_prev, params):
        return torch.tanh(torch.special.i0(gx)), (), ()  # aten::i0: no ONNX form

    layer = rnnkit.Recurrent(rnnkit.define_cell("i0_cell", 1, step), 3, 4)
    with pytest.raises(RnnkitError, match="cannot export the model to ONNX: .*aten::i0") as err:
        to_onnx(layer, (torch.randn(5, 2, 3),), tmp_path / "m.onnx")
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_the_command_exports_a_textgen_run_of_an_extra_cell_whole_and_streaming(tmp_path):
    from rnnkit.cli import main
    from rnnkit.data import load_shakespeare
    from rnnkit.tasks.textgen import load_model

    corpus, run = tmp_path / "plays.txt", tmp_path / "run"
    corpus.write_text(load_shakespeare()[:5000], encoding="utf-8")
    threads, backend = torch.get_num_threads(), rnnkit.get_backend()
    argv = ["textgen", "train", "--data", str(corpus), "--out", str(run), "--steps", "2",
            "--cell", "layernorm_gru", "--layers", "2", "--hidden", "8", "--embed", "4",
            "--seq-len", "8", "--batch-size", "2", "--eval-tokens", "50", "--no-plot",
            "--no-progress", "--threads", "1", "--backend", "reference"]  # fmt: skip
    try:
        assert main(argv) == 0
    finally:
        torch.set_num_threads(threads)
        rnnkit.set_backend(backend)
    model = load_model(run)[0].eval()
    tokens = torch.randint(0, model.embed.num_embeddings, (3, 7))
    with torch.no_grad():
        want, _ = model(tokens)
    whole, step = tmp_path / "lm.onnx", tmp_path / "step.onnx"
    assert main(["export", "onnx", "--checkpoint", str(run), "--output", str(whole)]) == 0
    assert "Loop" in {n.op_type for n in onnx.load(str(whole)).graph.node}
    session = onnxruntime.InferenceSession(str(whole), providers=["CPUExecutionProvider"])
    got = session.run(None, {"tokens": tokens.numpy()})[0]
    assert max_rel_err(torch.from_numpy(got), want) <= 1e-5
    assert main(["export", "onnx", "--checkpoint", str(run), "--output", str(step),
                 "--stream"]) == 0  # fmt: skip
    session = onnxruntime.InferenceSession(str(step), providers=["CPUExecutionProvider"])
    state = [torch.zeros(2, 3, 8).numpy()]  # (layers, B, H): generation starts from zeros
    for t in range(tokens.shape[1]):
        logits, *state = session.run(None, {"tokens": tokens[:, t : t + 1].numpy(),
                                            "state0": state[0]})  # fmt: skip
        assert max_rel_err(torch.from_numpy(logits[:, 0]), want[:, t]) <= 1e-5


def test_an_onnx_copy_deep_copies_and_exports_again(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(rnnkit.LayerNormGRU(3, 4, bias=False, batch_first=True))
    twin = copy.deepcopy(onnx_copy(model))  # no reference to the rnnkit layer left in it
    assert not any(isinstance(m, rnnkit.RNNBase) for m in twin.modules())
    x = torch.randn(2, 5, 3)
    path = to_onnx(twin, (x,), tmp_path / "m.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(3, 8, 3)
    got = session.run(None, {"input0": x.numpy()})
    with torch.no_grad():
        want = model(x)
    for a, b in zip(got, want):
        assert max_rel_err(torch.from_numpy(a), b) <= 1e-5
