"""The runtime library: AOTInductor packages of a model with every built-in native cell run,
without Python's rnnkit, in a Python process that cannot import it (a padded batch: the
inference operator; with lengths: the forward sweeps) and in a C++ program
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
from helpers import NO_RNNKIT_RUNNER, max_rel_err, runtime_cells
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

    def forward(self, x, lengths=None):
        for layer in self.layers:
            x, _ = layer(x, lengths=lengths)
        return x


def _linspace_input(B: int, T: int, I: int) -> torch.Tensor:
    """The runner's input: B·T·I evenly spaced values from -1 to 1."""
    return torch.linspace(-1, 1, B * T * I).reshape(B, T, I)


def _compiled(model, example, dims, ops, path):
    """``model`` exported under no_grad on ``example`` with ``dims`` dynamic, its rnnkit
    operators checked to be ``ops``, compiled ahead of time into ``path``."""
    with torch.no_grad():
        program = torch.export.export(model, example, dynamic_shapes=dims)
    calls = [n.target for n in program.graph.nodes if n.op == "call_function"]
    assert {str(t) for t in calls if str(t).startswith("rnnkit.")} == ops
    torch._inductor.aoti_compile_and_package(program, package_path=str(path))
    return path


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """(the padded batch's package, the lengths' package, the model, the runtime library): B
    and T dynamic."""
    torch.manual_seed(0)
    model = EveryCell().eval()
    with torch.no_grad():  # peephole weights start at zero: make them count
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    folder = tmp_path_factory.mktemp("aoti")
    B, T = Dim("B", max=512), Dim("T", max=4096)
    padded = _compiled(model, (torch.randn(3, 7, 5),), ({0: B, 1: T},),
                       {"rnnkit.infer_stack.default"}, folder / "padded.pt2")  # fmt: skip
    sweeps = {"rnnkit.projected_sweep.default", "rnnkit.forward_sweep.default"}
    example = (torch.randn(3, 7, 5), torch.tensor([7, 2, 5]))
    lengths = _compiled(model, example, ({0: B, 1: T}, {0: B}), sweeps, folder / "lengths.pt2")
    return padded, lengths, model, runtime_library(runtime_cells())  # (one build for both files)


@pytest.mark.parametrize("with_lengths", [False, True], ids=["padded", "lengths"])
def test_a_python_process_without_rnnkit_runs_the_package(package, tmp_path, with_lengths):
    padded, lengths, model, library = package
    torch.manual_seed(1)
    calls = []
    for B, T in ((3, 7), (6, 23), (1, 2)):
        x = torch.randn(B, T, 5)
        calls.append((x, torch.randint(1, T + 1, (B,))) if with_lengths else (x,))
    torch.save(calls, tmp_path / "calls.pt")
    out = tmp_path / "ys.pt"
    path = lengths if with_lengths else padded
    args = [str(library), str(path), str(tmp_path / "calls.pt"), str(out)]
    done = subprocess.run(
        [sys.executable, "-c", NO_RNNKIT_RUNNER, *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with torch.no_grad():
        for call, y in zip(calls, torch.load(out)):
            assert y.shape == (call[0].shape[0], call[0].shape[1], 6)
            assert max_rel_err(y, model(*call)) <= 1e-5


_WITH_RNNKIT = """
import sys, torch, rnnkit
torch.ops.load_library(sys.argv[1])  # rnnkit defined the operators: the library adds nothing
runner = torch._inductor.aoti_load_package(sys.argv[2])
with torch.no_grad():
    torch.save(runner(torch.load(sys.argv[3])), sys.argv[4])
"""


def test_the_library_loads_into_a_process_that_imported_rnnkit(package, tmp_path):
    padded, _, model, library = package
    x = torch.randn(2, 9, 5)
    torch.save(x, tmp_path / "x.pt")
    args = [str(library), str(padded), str(tmp_path / "x.pt"), str(tmp_path / "y.pt")]
    done = subprocess.run([sys.executable, "-c", _WITH_RNNKIT, *args], capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    with torch.no_grad():
        assert max_rel_err(torch.load(tmp_path / "y.pt"), model(x)) <= 1e-5


def test_a_cpp_program_runs_the_package(package, tmp_path):
    path, _, model, library = package
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

    cells = ["--cell", "helpers:RUNTIME_CIFG", "--cell", "helpers:RUNTIME_GAINED"]
    assert main(["build", "--runtime", *cells]) == 0
    assert capsys.readouterr().out.strip() == str(package[3])
    assert package[3].exists()


def test_importing_rnnkit_after_the_library_says_what_to_do(package):
    """The library first, then `import rnnkit`: both would define the operators; the import
    fails with the way out instead of torch's 'registered multiple times'."""
    code = f"import torch; torch.ops.load_library({str(package[3])!r}); import rnnkit"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: rnnkit: its operators") and "import rnnkit first" in last
