"""``rnnkit export onnx`` of a forecast run: windows of any length and batch in onnxruntime
equal the model's forecasts; a missing output directory is one line, exit 2."""

from __future__ import annotations

import pytest
import torch

from rnnkit.cli import main
from rnnkit.tasks.forecast import load_model

onnxruntime = pytest.importorskip("onnxruntime")


def test_export_forecaster(trained, tmp_path):
    out = tmp_path / "f.onnx"
    assert main(["export", "onnx", "--checkpoint", str(trained), "--output", str(out)]) == 0
    model = load_model(trained)[0].eval()
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    window = torch.randn(4, 23, model.rnn.input_size)
    (got,) = session.run(None, {"window": window.numpy()})
    with torch.no_grad():
        want = model(window)
    assert abs(torch.from_numpy(got) - want).max() <= 1e-4 * want.abs().max()


def test_export_to_a_missing_directory_is_refused(trained, tmp_path, capsys):
    out = tmp_path / "no" / "f.onnx"
    assert main(["export", "onnx", "--checkpoint", str(trained), "--output", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", "onnx", "--checkpoint", str(trained), "--output", str(tmp_path / "s"),
                 "--stream"]) == 2  # fmt: skip
