"""The tagger model: shapes with padding, character features that ignore padding, the CRF and
softmax heads, dropout that keeps the expectation."""

from __future__ import annotations

import pytest
import torch

from rnnkit.tasks.tag.data import Vocabularies, encode
from rnnkit.tasks.tag.model import CharCNN, CharLSTM, FastDropout, SequenceTagger

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
SENTENCES = [(["Ann", "met", "Bo", "Li"], ["B-PER", "O", "B-PER", "I-PER"]),
             (["in", "Rome"], ["O", "B-LOC"])]  # fmt: skip


def _batch(chars: bool, bigrams: bool):
    vocab = Vocabularies.build(SENTENCES, 1, True, bigrams, TAGS)
    enc = encode(vocab, [s for s, _ in SENTENCES], [t for _, t in SENTENCES], chars, bigrams)
    return vocab, enc.batch([0, 1])


@pytest.mark.parametrize("features", ["lstm", "cnn", "none"])
@pytest.mark.parametrize("crf", [True, False])
def test_emissions_loss_and_decoding(features, crf):
    vocab, batch = _batch(features != "none", features == "none")
    torch.manual_seed(0)
    model = SequenceTagger(len(vocab.words), TAGS, num_chars=len(vocab.chars),
                           num_bigrams=len(vocab.bigrams), embed=6, hidden=5,
                           char_features=features, char_embed=3, char_hidden=4, crf=crf,
                           scheme="bio", dropout=0.0)  # fmt: skip
    emissions = model(batch)
    assert emissions.shape == (2, 4, 5)
    loss = model.loss(batch)
    loss.backward()
    assert loss.item() > 0 and model.embed.weight.grad is not None
    tags = model.decode(batch)
    assert tags.shape == (2, 4) and (crf is False or tags[1, 2:].eq(0).all())


@pytest.mark.parametrize("cls", [CharLSTM, CharCNN])
def test_character_features_of_a_word_do_not_depend_on_padding(cls):
    torch.manual_seed(0)
    module = cls(10, 4, 3)
    word = torch.tensor([[[3, 4, 5]]])
    padded = torch.tensor([[[3, 4, 5, 0, 0], [0, 0, 0, 0, 0]]])
    alone, inside = module(word), module(padded)
    assert torch.allclose(alone[0, 0], inside[0, 0], atol=1e-6)
    assert inside[0, 1].eq(0).all()  # a padding token has no features


def test_crf_and_softmax_agree_on_the_per_token_cross_entropy_without_transitions():
    """With zero transition scores and no constraints the CRF factorizes per token: its loss
    equals softmax cross-entropy."""
    vocab, batch = _batch(False, False)
    torch.manual_seed(0)
    kw = {"embed": 6, "hidden": 5, "dropout": 0.0, "scheme": "none"}
    a = SequenceTagger(len(vocab.words), TAGS, crf=True, **kw)
    b = SequenceTagger(len(vocab.words), TAGS, crf=False, **kw)
    b.load_state_dict({k: v for k, v in a.state_dict().items() if not k.startswith("crf.")})
    assert a.loss(batch).item() == pytest.approx(b.loss(batch).item(), rel=1e-5)


def test_fast_dropout_keeps_the_expectation_and_is_off_in_eval():
    drop = FastDropout(0.3)
    x = torch.ones(200_000)
    y = drop(x)
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)
    assert (y == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert torch.equal(drop.eval()(x), x)
