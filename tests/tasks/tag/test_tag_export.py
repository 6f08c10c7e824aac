"""``rnnkit export onnx`` of a tag run (word level, character BiLSTM, CRF): onnxruntime's
emissions and Viterbi tags equal the tagger's for a batch of other sentences of unequal
lengths; the exported Viterbi equals the CRF's decode."""

from __future__ import annotations

import pytest
import torch
from tag_helpers import ner_sentences

from rnnkit.cli import main
from rnnkit.tasks.tag import load_tagger
from rnnkit.tasks.tag.data import encode

onnxruntime = pytest.importorskip("onnxruntime")


def test_export_emissions_equal_the_taggers(trained, tmp_path):
    out = tmp_path / "tag.onnx"
    assert main(["export", "onnx", "--checkpoint", str(trained), "--output", str(out)]) == 0
    tagger = load_tagger(trained)
    sentences = [[word for word, _ in s] for s in ner_sentences(5, seed=3)]
    sentences[1].append("unseen-word")  # no id of its own: characters only
    batch = encode(tagger.vocab, sentences, None, chars=True, bigrams=False).batch(range(5))
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["words", "lengths", "chars"]
    feed = {"words": batch.words, "lengths": batch.lengths, "chars": batch.chars}
    emissions, tags = session.run(None, {k: v.numpy() for k, v in feed.items()})
    with torch.no_grad():
        want = tagger.model(batch)
    assert batch.lengths.min() < batch.words.shape[1]  # unequal lengths
    assert abs(torch.from_numpy(emissions) - want).max() <= 1e-4 * want.abs().max()
    assert torch.equal(torch.from_numpy(tags), tagger.model.decode(batch, want))


def test_the_exported_viterbi_equals_the_crfs_decode_at_every_length():
    """The decoding loop is an ONNX Loop: T is free (here run through TorchScript itself)."""
    from rnnkit.commands.export import _scripted_viterbi
    from rnnkit.layers import CRF, allowed_transitions

    torch.manual_seed(0)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    crf = CRF(5, allowed_transitions(tags, "bio"))
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    scripted = _scripted_viterbi()
    for B, T in [(1, 1), (4, 2), (3, 9)]:
        emissions, lengths = torch.randn(B, T, 5), torch.randint(1, T + 1, (B,))
        best = crf.decode(emissions, lengths)[0]
        assert torch.equal(scripted(emissions, lengths, *crf.scores()), best)
