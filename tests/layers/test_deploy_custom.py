"""A cell of one's own (``rnnkit.define_cell``) under torch.compile and torch.export: its step
compiled to C++ runs as the ``rnnkit::cell_sweep`` operators (engine/native/cell_ops.py), so a
model compiles in one graph and exports with T and B dynamic, equal to eager; a saved program
runs in a new process that defines the cell; a step that does not compile is refused by
torch.export with the reason (torch.compile breaks the graph there and stays equal).

Run: python -m pytest tests/layers/test_deploy_custom.py -q
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend
from torch.export import Dim

import rnnkit
from helpers import cifg_step, gained_gru_params, gained_gru_step, max_rel_err
from rnnkit.engine.native import compiler_available
from rnnkit.errors import RnnkitError

pytestmark = [
    pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH"),
    pytest.mark.usefixtures("fresh_dynamo"),  # (conftest.py)
]

GAINED = gained_gru_params()
CELLS = {
    "cifg": rnnkit.define_cell("deploy_cifg", 3, cifg_step, extra_states=1),
    "gained_gru": rnnkit.define_cell(
        "deploy_gained_gru", 3, gained_gru_step, split_hidden=True, params=GAINED
    ),
}


class Tagger(torch.nn.Module):
    """Embedding, a 2-layer bidirectional layer of the cell, a linear head."""

    def __init__(self, cell):
        super().__init__()
        self.embed = torch.nn.Embedding(20, 8)
        self.rnn = rnnkit.Recurrent(cell, 8, 12, num_layers=2, bidirectional=True,
                                    batch_first=True)  # fmt: skip
        self.head = torch.nn.Linear(24, 5)

    def forward(self, tokens, lengths, hx):
        y, _ = self.rnn(self.embed(tokens), hx, lengths=lengths)
        return self.head(y)

    def state(self, B: int):
        states = tuple(torch.randn(4, B, 12) for _ in range(1 + self.rnn.cell.extra_states))
        return states[0] if len(states) == 1 else states


def _inputs(model: Tagger, B: int, T: int):
    lengths = torch.randint(1, T + 1, (B,))
    lengths[0] = T
    return torch.randint(0, 20, (B, T)), lengths, model.state(B)


def _grads(model, *inputs):
    out = model(*inputs)
    return [out, *torch.autograd.grad((out * out).sum(), list(model.parameters()))]


@pytest.mark.parametrize("name", list(CELLS))
def test_compiles_fullgraph_equal_to_eager_without_recompiling(name):
    torch.manual_seed(0)
    model = Tagger(CELLS[name])
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(model, backend=counter, fullgraph=True, dynamic=True)
    frames = []
    for B, T in [(6, 7), (3, 9)]:
        inputs = _inputs(model, B, T)
        for got, want in zip(_grads(compiled, *inputs), _grads(model, *inputs), strict=True):
            assert max_rel_err(got, want) <= 1e-5
        frames.append(counter.frame_count)
    assert frames[0] == frames[-1], "recompiled for a new T or B"


def test_compiles_under_autocast_as_eager_runs():
    """Under bfloat16 autocast the traced cell's GEMMs are lowered as eager lowers them (the
    operators' bf16 argument): outputs and gradients equal to eager's."""
    torch.manual_seed(0)
    model = Tagger(CELLS["gained_gru"])
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True, dynamic=True)
    inputs = _inputs(model, 5, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, want = _grads(compiled, *inputs), _grads(model, *inputs)
    for g, w in zip(got, want, strict=True):
        assert max_rel_err(g.float(), w.float()) <= 1e-5


def test_inductor_trains_it():
    torch.manual_seed(0)
    model = Tagger(CELLS["cifg"])
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    inputs = _inputs(model, 4, 6)
    for got, want in zip(_grads(compiled, *inputs), _grads(model, *inputs), strict=True):
        assert max_rel_err(got, want) <= 1e-5


_LOAD = """
import sys, torch, rnnkit
sys.path.insert(0, sys.argv[3])
from helpers import cifg_step
if sys.argv[4] == "define":
    rnnkit.define_cell("deploy_cifg", 3, cifg_step, extra_states=1)
program = torch.export.load(sys.argv[1])
inputs = torch.load(sys.argv[2])
try:
    with torch.no_grad():
        out = program.module()(*inputs[:-1])
except RuntimeError as exc:
    print(str(exc).splitlines()[0][:300])
    sys.exit(3)
assert (out - inputs[-1]).abs().max() <= 1e-5 * inputs[-1].abs().max(), "not equal"
"""


def test_exports_with_dynamic_t_and_b_and_runs_saved_where_the_cell_is_defined(tmp_path):
    torch.manual_seed(0)
    model = Tagger(CELLS["cifg"]).eval()
    B, T = Dim("B", min=1, max=64), Dim("T", min=2, max=512)
    program = torch.export.export(
        model, _inputs(model, 3, 5), dynamic_shapes=({0: B, 1: T}, {0: B}, ({1: B}, {1: B}))
    )
    assert "rnnkit.cell_sweep" in str(program.graph)
    with torch.no_grad():
        for b, t in [(2, 11), (5, 3)]:
            inputs = _inputs(model, b, t)
            assert max_rel_err(program.module()(*inputs), model(*inputs)) <= 1e-5
    torch.export.save(program, tmp_path / "tagger.pt2")
    inputs = _inputs(model, 4, 9)
    with torch.no_grad():
        torch.save([*inputs, model(*inputs)], tmp_path / "inputs.pt")
    tests = str(Path(__file__).resolve().parents[1])
    run = lambda how: subprocess.run(  # noqa: E731
        [sys.executable, "-c", _LOAD, str(tmp_path / "tagger.pt2"), str(tmp_path / "inputs.pt"),
         tests, how], capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    defined = run("define")
    assert defined.returncode == 0, defined.stderr[-2000:]
    undefined = run("no")
    assert undefined.returncode == 3, undefined.stderr[-2000:]
    assert "no cell 'deploy_cifg-" in undefined.stdout and "define_cell" in undefined.stdout


def _normed_step(gx, gh, h_prev, extra_prev, params):
    """A row mean inside the step: not element-wise, so the native engine cannot compile it."""
    return torch.tanh(gx - gx.mean(1, keepdim=True)), (), ()


def test_a_step_that_does_not_compile_is_refused_by_export_and_breaks_compile_s_graph():
    layer = rnnkit.Recurrent(rnnkit.define_cell("deploy_normed", 1, _normed_step), 3, 4)
    x = torch.randn(5, 2, 3)
    with pytest.raises(RnnkitError, match="torch.export cannot trace the deploy_normed layer: "
                                          "its step does not compile .*aten.mean"):  # fmt: skip
        torch.export.export(layer, (x,))
    got, want = torch.compile(layer, dynamic=True)(x)[0], layer(x)[0]
    assert max_rel_err(got, want) <= 1e-5
