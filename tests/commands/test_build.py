"""``rnnkit build``: compiles (or finds) the native loops ahead of their first use."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import cli_fails
from rnnkit.cli import main
from rnnkit.engine.native import build, compiler_available


@pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")
def test_build_names_the_library_of_this_cpus_build(capsys):
    assert main(["build"]) == 0
    line = capsys.readouterr().out.strip()
    cap, rest = line.split(": ", 1)
    library = Path(rest.rsplit(" (", 1)[0])
    assert cap == build.capability() and library.is_file()
    assert library.parent.name == build.native_build_name()
    assert (library.parent / build.BUILT).exists()


def test_build_refuses_when_the_native_loops_are_off(monkeypatch, capsys):
    monkeypatch.setenv("RNNKIT_NATIVE", "0")
    cli_fails(capsys, ["build"], "RNNKIT_NATIVE=0")
