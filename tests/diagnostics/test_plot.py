"""plot_gradient_flow writes a PNG atomically (no temporary file left behind)."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.diagnostics import gradient_flow, plot_gradient_flow

pytest.importorskip("matplotlib")


def test_plot_writes_a_png_and_leaves_no_temporary_file(tmp_path):
    torch.manual_seed(0)
    reports = {}
    for name, cls in (("rnn", rnnkit.RNN), ("gru", rnnkit.GRU)):
        reports[name] = gradient_flow(cls(2, 3), torch.randn(5, 2, 2), lambda o: o[0][-1].sum())
    path = plot_gradient_flow(reports, tmp_path / "sub" / "flow.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["flow.png"]


def test_plot_without_reports_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="at least one report"):
        plot_gradient_flow({}, tmp_path / "x.png")
