"""AOTInductor: an exported rnnkit model compiled ahead of time into a .pt2 package (T and B
dynamic) that a fresh Python process loads after ``import rnnkit`` and runs equal to eager."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch.export import Dim

import rnnkit
from helpers import max_rel_err
from rnnkit.engine.native import compiler_available

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")


class Stack(torch.nn.Module):
    """A 2-layer bidirectional GRU (a cell without step parameters) into a PeepholeLSTM (one
    with them), a linear head."""

    def __init__(self):
        super().__init__()
        self.gru = rnnkit.GRU(6, 8, num_layers=2, bidirectional=True, batch_first=True)
        self.peep = rnnkit.PeepholeLSTM(16, 8, batch_first=True)
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x):
        y, _ = self.gru(x)
        y, _ = self.peep(y)
        return self.head(y)


_LOAD = """
import sys, torch, rnnkit  # rnnkit registers the operators the package calls
runner = torch._inductor.aoti_load_package(sys.argv[1])
x = torch.load(sys.argv[2])
torch.save(runner(x), sys.argv[3])
"""


@pytest.mark.parametrize("grad", [True, False], ids=["training-operators", "inference-operator"])
def test_aoti_package_runs_with_dynamic_t_and_b_in_a_fresh_process(tmp_path, grad):
    torch.manual_seed(0)
    model = Stack().eval()
    with torch.no_grad():  # the peephole weights start at zero: make them count
        for p in model.peep.parameters():
            p.add_(0.3 * torch.randn_like(p))
    dims = {0: Dim("B", max=512), 1: Dim("T", max=4096)}
    with torch.set_grad_enabled(grad):  # exported under no_grad: rnnkit::infer_stack
        program = torch.export.export(model, (torch.randn(3, 7, 6),), dynamic_shapes=(dims,))
    assert ("rnnkit.projected_sweep" if grad else "rnnkit.infer_stack") in str(program.graph)
    package = str(tmp_path / "m.pt2")
    torch._inductor.aoti_compile_and_package(program, package_path=package)
    runner = torch._inductor.aoti_load_package(package)
    with torch.no_grad():
        for shape in ((3, 7, 6), (5, 19, 6), (1, 2, 6)):
            x = torch.randn(shape)
            assert max_rel_err(runner(x), model(x)) <= 1e-5, shape
        x = torch.randn(4, 11, 6)
        torch.save(x, tmp_path / "x.pt")
        subprocess.run([sys.executable, "-c", _LOAD, package, str(tmp_path / "x.pt"),
                        str(tmp_path / "y.pt")], check=True, timeout=600)  # fmt: skip
        assert max_rel_err(torch.load(tmp_path / "y.pt"), model(x)) <= 1e-5
