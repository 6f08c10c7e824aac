"""``rnnkit export onnx`` of a speech run (bidirectional, subsampling): onnxruntime's CTC
log-probabilities and output lengths equal the model's for utterances of unequal lengths."""

from __future__ import annotations

import pytest
import torch

from rnnkit.cli import main
from rnnkit.tasks.speech.recognizer import load_recognizer

onnxruntime = pytest.importorskip("onnxruntime")


def test_export_log_probabilities_equal_the_models(trained, tmp_path):
    out = tmp_path / "speech.onnx"
    assert main(["export", "onnx", "--checkpoint", str(trained), "--output", str(out)]) == 0
    recognizer = load_recognizer(trained)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    torch.manual_seed(0)
    feats = torch.randn(3, 57, recognizer.features.dim)
    lengths = torch.tensor([57, 20, 41])
    got = session.run(None, {"feats": feats.numpy(), "lengths": lengths.numpy()})
    with torch.no_grad():
        log_probs, out_lengths = recognizer.model(feats, lengths)
    assert torch.equal(torch.from_numpy(got[1]), out_lengths)
    assert abs(torch.from_numpy(got[0]) - log_probs).max() <= 1e-4 * log_probs.abs().max()
