"""The native build without a C++ compiler: one line on stderr, then the Python engine."""

from __future__ import annotations

import pytest

from rnnkit.engine.native import build


def test_no_compiler_is_one_line_once_then_not_implemented(monkeypatch, capsys):
    monkeypatch.delenv("RNNKIT_NATIVE", raising=False)
    monkeypatch.setattr(build, "_module", None)
    monkeypatch.setattr(build, "_error", None)
    monkeypatch.setattr(build, "compiler_available", lambda: False)
    monkeypatch.setattr(build, "_finished", lambda: None)  # no build left by another copy
    monkeypatch.setattr(build, "_build", lambda: pytest.fail("a build was tried"))
    for _ in range(2):
        with pytest.raises(NotImplementedError, match="no C\\+\\+ compiler"):
            build.load()
    err = capsys.readouterr().err
    assert err == (
        "rnnkit: no C++ compiler found on PATH (c++, g++ or clang++); "
        "using the Python engine (slower)\n"
    )


def _fake_build(calls: list):
    def jit_load(name, build_directory, **_):
        calls.append(name)
        return f"built {name}"

    return jit_load


def test_a_finished_build_is_imported_not_rebuilt(monkeypatch, tmp_path):
    import torch.utils.cpp_extension as cpp_extension

    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setattr(build, "compiler_available", lambda: True)
    calls: list[str] = []
    monkeypatch.setattr(cpp_extension, "load", _fake_build(calls))
    first = build._build()
    assert first.startswith("built") and len(calls) == 1
    name = calls[0]
    directory = next(tmp_path.glob(f"*/{name}"))
    assert (directory / build.BUILT).exists()
    assert build._build().startswith("built") and len(calls) == 2  # the mark alone: build
    (directory / f"{name}.so").write_bytes(b"")  # a finished library beside its mark
    monkeypatch.setattr(build, "_import_library", lambda n, path: f"imported {path.name}")
    assert build._build() == f"imported {name}.so" and len(calls) == 2


COPY = """
import shutil, sys
from pathlib import Path
import torch.utils.cpp_extension as cpp_extension
from rnnkit.engine.native import build
cpp_extension.load = lambda *a, **k: sys.exit("rebuilt")
build._CSRC = Path(shutil.copytree(build._CSRC, sys.argv[1]))  # a second checkout
import torch, rnnkit
with rnnkit.use_backend("native"):
    rnnkit.GRU(3, 5)(torch.randn(4, 2, 3))
print(rnnkit.engine.engine_path())
"""


def test_a_second_copy_of_the_sources_reuses_the_build(tmp_path):
    import subprocess
    import sys

    build.load()  # built (or imported) here first
    done = subprocess.run(
        [sys.executable, "-c", COPY, str(tmp_path / "csrc")], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip() == "native", done.stderr[-2000:]


def test_without_a_compiler_a_finished_build_still_loads(monkeypatch, capsys):
    monkeypatch.delenv("RNNKIT_NATIVE", raising=False)
    build.load()  # a finished build exists after this
    monkeypatch.setattr(build, "_module", None)
    monkeypatch.setattr(build, "_error", None)
    monkeypatch.setattr(build, "compiler_available", lambda: False)
    monkeypatch.setattr(build, "_import_library", lambda name, path: f"imported {name}")
    assert build.load().startswith("imported rnnkit_native_")
    assert capsys.readouterr().err == ""
