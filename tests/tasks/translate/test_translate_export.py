"""ONNX export of translate models (rnnkit.export_translate): the encoder graph and the
decoder-step graph run in onnxruntime, and greedy decoding over them (``greedy_onnx``) and the
recipe's beam search on them (``OnnxSeq2Seq``) write the eager model's tokens with its
log-probabilities, at batch and source sizes the export example did not have, with padding;
``rnnkit export onnx`` of a translate run; bad input."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import cli_fails
from rnnkit.cli import main
from rnnkit.errors import RnnkitError
from rnnkit.export_translate import OnnxSeq2Seq, export_translator, graph_paths, greedy_onnx
from rnnkit.tasks.translate import Seq2Seq, beam_search, greedy, load_translator
from rnnkit.tasks.translate.vocab import EOS

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one thread (tests/tasks/conftest.py puts the count back)."""
    torch.set_num_threads(1)


# attention, encoder cell, decoder cell, input feeding, layers, bidirectional encoder
CASES = {
    "luong_general_lstm_feeding_2L": ("luong-general", "lstm", None, True, 2, True),
    "luong_general_gru_1L": ("luong-general", "gru", None, False, 1, False),
    "bahdanau_lstm_1L": ("bahdanau", "lstm", None, False, 1, True),
    "bahdanau_gru_2L": ("bahdanau", "gru", None, False, 2, True),
    "none_lstm_2L": ("none", "lstm", None, False, 2, False),
    "none_gru_1L": ("none", "gru", None, False, 1, True),
    "luong_dot_gru_to_lstm_feeding": ("luong-dot", "gru", "lstm", True, 1, True),
    "layernorm_gru_loop_feeding_2L": ("luong-general", "layernorm_gru", None, True, 2, True),
}


def _model(case: str) -> Seq2Seq:
    attention, cell, decoder_cell, feeding, layers, bi = CASES[case]
    torch.manual_seed(0)
    options = {"decoder_cell": decoder_cell, "attention": attention, "input_feeding": feeding}
    model = Seq2Seq(20, 15, 8, 12, layers, cell, bidirectional=bi, **options)
    with torch.no_grad():  # larger weights than the default init: varied tokens
        for p in model.parameters():
            p.normal_(0.0, 0.7)
        model.decoder.out.bias[EOS] += 2.0  # some rows end by <eos>, at different steps
    return model.eval()


def _sessions(paths):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return [onnxruntime.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
            for p in paths]  # fmt: skip


def _batch():
    """B 3, S 8 (the example: B 2, S 5); every source shorter than S, one of length 1."""
    seeded = torch.Generator().manual_seed(1)
    lengths = torch.tensor([7, 1, 5])
    src = torch.randint(4, 20, (3, 8), generator=seeded)
    src[torch.arange(8) >= lengths[:, None]] = 0  # <pad>
    return src, lengths


def _close(got, want, rel=1e-5) -> None:
    want = torch.as_tensor(want, dtype=torch.float32)
    got = torch.as_tensor(got, dtype=torch.float32)
    finite = torch.isfinite(want)
    assert torch.equal(finite, torch.isfinite(got))
    assert (got[finite] - want[finite]).abs().max() <= rel * want[finite].abs().max()


@pytest.mark.parametrize("case", CASES)
def test_onnx_greedy_equals_eager_greedy(case, tmp_path):
    model = _model(case)
    paths = export_translator(model, tmp_path / "m.onnx")
    assert [p.name for p in paths] == ["m.encoder.onnx", "m.decoder.onnx"]
    operators = {n.op_type for n in onnx.load(str(paths[0])).graph.node}
    assert ("Loop" in operators) == case.startswith("layernorm")  # else ONNX's LSTM / GRU
    encoder, decoder = _sessions(paths)
    src, lengths = _batch()
    for max_length in (None, 3):
        ids, scores = greedy_onnx(encoder, decoder, src.numpy(), lengths.numpy(), max_length)
        hyps, _ = greedy(model, src, lengths, max_length)
        assert ids == [h.tokens for h in hyps]
        _close(scores, [h.log_prob for h in hyps])
    onnx_beams = beam_search(OnnxSeq2Seq(encoder, decoder), src, lengths, 3, 2, max_length=6)
    beams = beam_search(model, src, lengths, 3, 2, max_length=6)  # the recipe's search on both
    assert [[h.tokens for h in b] for b in onnx_beams] == [[h.tokens for h in b] for b in beams]
    _close([h.score for b in onnx_beams for h in b], [h.score for b in beams for h in b])


@pytest.mark.parametrize("case", ["luong_general_lstm_feeding_2L", "bahdanau_gru_2L"])
def test_one_step_gives_the_decoders_log_probs_state_and_attention(case, tmp_path):
    model = _model(case)
    encoder, decoder = _sessions(export_translator(model, tmp_path / "m.onnx"))
    src, lengths = _batch()
    memory = encoder.run(None, {"src": src.numpy(), "lengths": lengths.numpy()})
    values = dict(zip([o.name for o in encoder.get_outputs()], memory))
    values.update(tokens=torch.tensor([5, 6, 7]).numpy(), lengths=lengths.numpy())
    feed = {i.name: values[i.name] for i in decoder.get_inputs()}
    got = dict(zip([o.name for o in decoder.get_outputs()], decoder.run(None, feed)))
    with torch.no_grad():
        memory, state = model.encode(src, lengths)
        _close(values["memory"], memory.values)
        logits, state, weights = model.decoder.step(torch.tensor([5, 6, 7]), state, memory)
    _close(got["log_probs"], torch.log_softmax(logits.index_fill(1, torch.tensor([0, 1]),
                                                                 float("-inf")), 1))  # fmt: skip
    for k, name in enumerate(["next_h", "next_c"][: len(state.hx)]):
        _close(got[name], state.hx[k])
    _close(got["attention"], weights)
    assert (got["attention"][torch.arange(8) >= lengths[:, None]] == 0).all()  # no padding read


def test_the_cli_exports_a_translate_run(trained, tmp_path, capsys):
    out = tmp_path / "g2p.onnx"
    capsys.readouterr()
    assert main(["export", "onnx", "--checkpoint", str(trained), "--output", str(out)]) == 0
    assert "g2p.encoder.onnx" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "g2p.decoder.onnx", "g2p.encoder.onnx", "g2p.vocab.json"
    ]  # fmt: skip
    vocab = json.loads((tmp_path / "g2p.vocab.json").read_text("utf-8"))
    assert vocab["source"]["level"] == "char"  # the ids by the JSON alone:
    index = {token: i for i, token in enumerate(vocab["source"]["tokens"])}
    words = ["abc", "f", "deadbeef", "cab"]
    lengths = torch.tensor([len(w) for w in words])
    src = torch.zeros(len(words), int(lengths.max()) + 2, dtype=torch.int64)  # padded past all
    for row, word in zip(src, words):
        row[: len(word)] = torch.tensor([index[c] for c in word])
    sessions = _sessions([tmp_path / "g2p.encoder.onnx", tmp_path / "g2p.decoder.onnx"])
    ids, _ = greedy_onnx(*sessions, src.numpy(), lengths.numpy())
    texts = [" ".join(vocab["target"]["tokens"][i] for i in row) for row in ids]
    assert texts == load_translator(trained).translate(words, beam_size=1)


def test_the_files_are_named_beside_the_output():
    names = ["g2p.v2.encoder.onnx", "g2p.v2.decoder.onnx", "g2p.v2.vocab.json"]
    assert [str(p) for p in graph_paths("out/g2p.v2.onnx")] == [f"out/{n}" for n in names]
    assert graph_paths("model")[0].name == "model.encoder.onnx"


def test_export_translator_refuses_what_it_cannot_write(tmp_path, trained):
    with pytest.raises(RnnkitError, match="expected a Seq2Seq; got GRU"):
        export_translator(torch.nn.GRU(2, 3), tmp_path / "m.onnx")
    with pytest.raises(RnnkitError, match="does not exist"):
        export_translator(trained, tmp_path / "no" / "m.onnx")


@pytest.mark.parametrize(
    ("extra", "match"),
    [(["--stream"], "--stream exports textgen models"), ([], "does not exist")],
)
def test_bad_input_is_one_line_and_writes_nothing(trained, tmp_path, capsys, extra, match):
    out = tmp_path / ("no" if not extra else "") / "g2p.onnx"
    cli_fails(capsys, ["export", "onnx", "--checkpoint", str(trained), "--output", str(out),
                       *extra], match)  # fmt: skip
    assert list(tmp_path.rglob("*.onnx")) == []


def test_a_failed_export_leaves_what_was_there(trained, tmp_path, monkeypatch):
    import rnnkit.export_translate as module

    (tmp_path / "g2p.encoder.onnx").write_text("old")
    real, calls = module.to_onnx, []

    def second_fails(*args, **kwargs):  # the encoder is written, the decoder step fails
        calls.append(1)
        if len(calls) == 2:
            raise RnnkitError("cannot export the model to ONNX: (a failure)")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "to_onnx", second_fails)
    with pytest.raises(RnnkitError, match="a failure"):
        export_translator(trained, tmp_path / "g2p.onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["g2p.encoder.onnx"]
    assert (tmp_path / "g2p.encoder.onnx").read_text() == "old"


def test_a_bare_model_export_removes_an_older_runs_vocabularies(trained, tmp_path):
    export_translator(trained, tmp_path / "g2p.onnx", check=False)
    assert (tmp_path / "g2p.vocab.json").exists()
    written = export_translator(_model("bahdanau_lstm_1L"), tmp_path / "g2p.onnx", check=False)
    assert [p.name for p in written] == ["g2p.encoder.onnx", "g2p.decoder.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g2p.decoder.onnx", "g2p.encoder.onnx"]
