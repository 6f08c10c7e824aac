"""``rnnkit export onnx`` of a textgen run: the whole-sequence graph and the streaming one
(state in and out) run in onnxruntime and equal the model."""

from __future__ import annotations

import pytest
import torch

from rnnkit.cli import main
from rnnkit.tasks.textgen import load_model

onnxruntime = pytest.importorskip("onnxruntime")


def _session(path):
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_export_whole_sequences(trained, tmp_path):
    out = tmp_path / "lm.onnx"
    assert main(["export", "onnx", "--checkpoint", str(trained), "--output", str(out)]) == 0
    model = load_model(trained)[0].eval()
    tokens = torch.randint(0, model.embed.num_embeddings, (3, 13))
    got = _session(out).run(None, {"tokens": tokens.numpy()})[0]
    with torch.no_grad():
        want = model(tokens)[0]
    assert abs(torch.from_numpy(got) - want).max() <= 1e-4 * want.abs().max()


def test_export_stream_carries_the_state_from_call_to_call(trained, tmp_path):
    out = tmp_path / "step.onnx"
    assert main(["export", "onnx", "--checkpoint", str(trained), "--output", str(out),
                 "--stream"]) == 0  # fmt: skip
    model = load_model(trained)[0].eval()
    session = _session(out)
    tokens = torch.randint(0, model.embed.num_embeddings, (2, 6))
    with torch.no_grad():
        want = model(tokens)[0]
        state = model(tokens[:, :1])[1]  # any state of the right shape, then step from zero
    zero = [torch.zeros_like(s) for s in (state if isinstance(state, tuple) else (state,))]
    feed_state = [s.numpy() for s in zero]
    names = [i.name for i in session.get_inputs()]
    for t in range(tokens.shape[1]):
        logits, *feed_state = session.run(
            None, dict(zip(names, [tokens[:, t : t + 1].numpy(), *feed_state]))
        )
        err = abs(torch.from_numpy(logits[:, 0]) - want[:, t]).max()
        assert err <= 1e-4 * want.abs().max()


def test_export_refuses_a_file_that_is_no_checkpoint(tmp_path, capsys):
    bad = tmp_path / "x.pt"
    bad.write_text("not a checkpoint")
    assert main(["export", "onnx", "--checkpoint", str(bad), "--output", "m.onnx"]) == 2
    assert "not a readable rnnkit checkpoint" in capsys.readouterr().err
