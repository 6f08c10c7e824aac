"""The runtime library: an AOTInductor package of a model with every built-in native cell runs,
without Python's rnnkit, in a Python process that cannot import it and in a C++ program
(docs/aoti_runner.cpp), equal to eager."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.export import Dim

import rnnkit
from helpers import max_rel_err
from rnnkit.engine import runtime_library
from rnnkit.engine.native import compiler_available

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")

RUNNER = Path(__file__).parents[2] / "docs" / "aoti_runner.cpp"


class EveryCell(torch.nn.Module):
    """One layer of each built-in native cell in a chain: stacked, bidirectional, without bias,
    with a projection, with step parameters (a row of the runtime's cell table each)."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList([
            rnnkit.RNN(5, 6, num_layers=2, bidirectional=True, batch_first=True),
            rnnkit.RNN(12, 6, nonlinearity="relu", bias=False, batch_first=True),
            rnnkit.LSTM(6, 8, proj_size=4, bidirectional=True, batch_first=True),
            rnnkit.GRU(8, 6, batch_first=True),
            rnnkit.LayerNormLSTM(6, 6, batch_first=True),
            rnnkit.LayerNormGRU(6, 6, batch_first=True),
            rnnkit.PeepholeLSTM(6, 6, batch_first=True),
            rnnkit.IndRNN(6, 6, batch_first=True),
            rnnkit.IndRNN(6, 6, nonlinearity="tanh", batch_first=True),
        ])  # fmt: skip

    def forward(self, x):
        for layer in self.layers:
            x, _ = layer(x)
        return x


def _linspace_input(B: int, T: int, I: int) -> torch.Tensor:
    """The runner's input: B·T·I evenly spaced values from -1 to 1."""
    return torch.linspace(-1, 1, B * T * I).reshape(B, T, I)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """(the package's path, the model, the runtime library): exported under no_grad, B and T
    dynamic, compiled ahead of time."""
    torch.manual_seed(0)
    model = EveryCell().eval()
    with torch.no_grad():  # peephole weights start at zero: make them count
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
        dims = {0: Dim("B", max=512), 1: Dim("T", max=4096)}
        program = torch.export.export(model, (torch.randn(3, 7, 5),), dynamic_shapes=(dims,))
    calls = [n.target for n in program.graph.nodes if n.op == "call_function"]
    rnn_ops = {str(t) for t in calls if str(t).startswith("rnnkit.")}
    assert rnn_ops == {"rnnkit.infer_stack.default"}  # nothing else needs Python's rnnkit
    path = tmp_path_factory.mktemp("aoti") / "every_cell.pt2"
    torch._inductor.aoti_compile_and_package(program, package_path=str(path))
    return path, model, runtime_library()


_NO_RNNKIT = """
import sys, torch
sys.modules["rnnkit"] = None  # any import of rnnkit fails: no Python kernel can run
torch.ops.load_library(sys.argv[1])
runner = torch._inductor.aoti_load_package(sys.argv[2])
with torch.no_grad():
    torch.save([runner(x) for x in torch.load(sys.argv[3])], sys.argv[4])
"""


def test_a_python_process_without_rnnkit_runs_the_package(package, tmp_path):
    path, model, library = package
    xs = [torch.randn(shape) for shape in ((3, 7, 5), (6, 23, 5), (1, 2, 5))]
    torch.save(xs, tmp_path / "xs.pt")
    out = tmp_path / "ys.pt"
    args = [str(library), str(path), str(tmp_path / "xs.pt"), str(out)]
    done = subprocess.run([sys.executable, "-c", _NO_RNNKIT, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    with torch.no_grad():
        for x, y in zip(xs, torch.load(out)):
            assert y.shape == (x.shape[0], x.shape[1], 6)
            assert max_rel_err(y, model(x)) <= 1e-5


def test_a_cpp_program_runs_the_package(package, tmp_path):
    path, model, library = package
    cxx = shutil.which("g++") or shutil.which("c++")
    torch_dir = Path(torch.__file__).parent
    runner = tmp_path / "aoti_runner"
    build = [cxx, "-std=c++20", "-O1", str(RUNNER), "-o", str(runner),
             f"-I{torch_dir / 'include'}", f"-I{torch_dir / 'include/torch/csrc/api/include'}",
             f"-L{torch_dir / 'lib'}", "-ltorch", "-ltorch_cpu", "-lc10",
             f"-Wl,-rpath,{torch_dir / 'lib'}", "-ldl"]  # fmt: skip
    done = subprocess.run(build, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    bare = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    for B, T in ((4, 33), (1, 5)):
        out = tmp_path / f"y_{B}_{T}.bin"
        run = [str(runner), str(library), str(path), str(B), str(T), "5", str(out)]
        done = subprocess.run(run, capture_output=True, text=True, env=bare)
        assert done.returncode == 0, done.stderr[-3000:]
        got = torch.from_numpy(np.fromfile(out, dtype=np.float32)).reshape(B, T, 6)
        with torch.no_grad():
            assert max_rel_err(got, model(_linspace_input(B, T, 5))) <= 1e-5


def test_rnnkit_build_runtime_prints_the_library(package, capsys):
    from rnnkit.cli import main

    assert main(["build", "--runtime"]) == 0
    assert capsys.readouterr().out.strip() == str(package[2])
    assert package[2].exists()
