"""``rnnkit export onnx`` of a classify run: its ONNX model takes token ids and their lengths
(the recurrent operator's sequence_lens), and onnxruntime's logits equal the classifier's for
batches of other sizes and unequal lengths."""

from __future__ import annotations

import pytest
import torch

from rnnkit.cli import main
from rnnkit.tasks.classify import load_classifier

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")


def test_export_logits_equal_the_classifiers_with_lengths(trained, tmp_path):
    out = tmp_path / "classify.onnx"
    assert main(["export", "onnx", "--checkpoint", str(trained), "--output", str(out)]) == 0
    (node,) = [n for n in onnx.load(str(out)).graph.node if n.op_type in ("RNN", "LSTM", "GRU")]
    assert node.input[4], "no sequence_lens"
    model = load_classifier(trained).model
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    torch.manual_seed(0)
    for B, T in [(3, 11), (6, 4)]:
        tokens = torch.randint(1, model.embed.num_embeddings, (B, T))
        lengths = torch.randint(1, T, (B,))  # all shorter than T: the padding is never read
        (got,) = session.run(None, {"tokens": tokens.numpy(), "lengths": lengths.numpy()})
        with torch.no_grad():
            want = model(tokens, lengths)
        assert abs(torch.from_numpy(got) - want).max() <= 1e-4 * want.abs().max()
