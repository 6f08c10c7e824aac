"""The runtime library with cells of one's own compiled in (runtime_library(cells), rnnkit
build --runtime --cell): an AOTInductor package of a model with such cells runs in a Python
process that cannot import rnnkit, equal to eager; a library without the cell names it.

Run: python -m pytest tests/engine/test_runtime_own_cells.py -q
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch.export import Dim

import rnnkit
from helpers import NO_RNNKIT_RUNNER, cli_fails, elman_step, max_rel_err, runtime_cells
from rnnkit.engine import runtime_library
from rnnkit.engine.native import compiler_available

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")

CIFG, GAINED = runtime_cells()  # the library test_runtime_library.py builds too
ELMAN = rnnkit.define_cell("runtime_elman", 1, elman_step)  # in no library


class OwnCells(torch.nn.Module):
    """A bidirectional CIFG layer, then the gained GRU without bias (its optional parameter
    absent): two keys of the library's table."""

    def __init__(self):
        super().__init__()
        self.first = rnnkit.Recurrent(CIFG, 5, 6, bidirectional=True, batch_first=True)
        self.second = rnnkit.Recurrent(GAINED, 12, 6, bias=False, batch_first=True)

    def forward(self, x, lengths):
        y, _ = self.first(x, lengths=lengths)
        return self.second(y, lengths=lengths)[0]


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """(the package, the model, the library with both cells)."""
    torch.manual_seed(0)
    model = OwnCells().eval()
    B, T = Dim("B", max=512), Dim("T", max=4096)
    example = (torch.randn(3, 7, 5), torch.tensor([7, 2, 5]))
    with torch.no_grad():
        program = torch.export.export(model, example, dynamic_shapes=({0: B, 1: T}, {0: B}))
    assert "rnnkit.cell_sweep" in str(program.graph)
    path = tmp_path_factory.mktemp("aoti") / "own.pt2"
    torch._inductor.aoti_compile_and_package(program, package_path=str(path))
    return path, model, runtime_library([CIFG, GAINED])


def _run(library, path, calls, tmp_path) -> subprocess.CompletedProcess:
    torch.save(calls, tmp_path / "calls.pt")
    args = [str(library), str(path), str(tmp_path / "calls.pt"), str(tmp_path / "ys.pt")]
    return subprocess.run([sys.executable, "-c", NO_RNNKIT_RUNNER, *args], capture_output=True,
                          text=True)  # fmt: skip


def test_a_python_process_without_rnnkit_runs_a_package_of_own_cells(package, tmp_path):
    path, model, library = package
    torch.manual_seed(1)
    calls = [(torch.randn(B, T, 5), torch.randint(1, T + 1, (B,))) for B, T in ((3, 7), (5, 19))]
    done = _run(library, path, calls, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    with torch.no_grad():
        for call, y in zip(calls, torch.load(tmp_path / "ys.pt"), strict=True):
            assert max_rel_err(y, model(*call)) <= 1e-5


def test_a_library_without_the_cell_names_it(package, tmp_path):
    _, _, library = package
    model = torch.nn.Sequential(rnnkit.Recurrent(ELMAN, 5, 4, batch_first=True)).eval()
    with torch.no_grad():
        program = torch.export.export(model, (torch.randn(2, 4, 5),))
    path = tmp_path / "elman.pt2"
    torch._inductor.aoti_compile_and_package(program, package_path=str(path))
    done = _run(library, path, [(torch.randn(2, 4, 5),)], tmp_path)
    assert done.returncode != 0
    assert "this library has no cell 'runtime_elman-" in done.stderr


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--cell", "helpers:cifg_step"], "--cell goes with --runtime"),
        (["--runtime", "--cell", "helpers"], "--cell expects MODULE:NAME"),
        (["--runtime", "--cell", "no_such_module_here:X"], "importing no_such_module_here"),
        (["--runtime", "--cell", "helpers:NOPE"], "helpers has no NOPE"),
        (["--runtime", "--cell", "helpers:cifg_step"], "expected cells made by rnnkit.define_cell"),
    ],
)
def test_rnnkit_build_refuses_a_bad_cell_in_one_line(capsys, argv, match):
    cli_fails(capsys, ["build", *argv], match)
