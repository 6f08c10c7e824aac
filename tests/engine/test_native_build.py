"""The native build without a C++ compiler: one line on stderr, then the Python engine."""

from __future__ import annotations

import pytest

from rnnkit.engine.native import build


def test_no_compiler_is_one_line_once_then_not_implemented(monkeypatch, capsys):
    monkeypatch.delenv("RNNKIT_NATIVE", raising=False)
    monkeypatch.setattr(build, "_module", None)
    monkeypatch.setattr(build, "_error", None)
    monkeypatch.setattr(build, "compiler_available", lambda: False)
    monkeypatch.setattr(build, "_build", lambda: pytest.fail("a build was tried"))
    for _ in range(2):
        with pytest.raises(NotImplementedError, match="no C\\+\\+ compiler"):
            build.load()
    err = capsys.readouterr().err
    assert err == (
        "rnnkit: no C++ compiler found on PATH (c++, g++ or clang++); "
        "using the Python engine (slower)\n"
    )
