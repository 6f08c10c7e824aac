"""The text pipeline in rnnkit.data.text: tokenizer, padding/truncation and the word vocabulary
with <pad>/<unk>, each against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.text import PAD, UNK, Vocab, pad_sequences, tokenize
from rnnkit.train import RnnkitError


def test_tokenize_lowercases_and_splits_words_and_punctuation():
    text = "It's GREAT -- isn't it?\tA 10/10 film!"
    assert tokenize(text, lower=True) == [
        *("it's", "great", "-", "-", "isn't", "it", "?", "a"),
        *("10", "/", "10", "film", "!"),
    ]
    assert tokenize("It's GREAT")[:2] == ["It's", "GREAT"]  # case kept unless asked


def test_tokenize_keeps_newlines_only_when_asked():
    assert tokenize("a\nb") == ["a", "b"]
    assert tokenize("a\nb", newlines=True) == ["a", "\n", "b"]


SEQS = [[1, 2, 3, 4, 5], [6, 7], []]


@pytest.mark.parametrize(
    ("padding", "truncating", "ids"),
    [
        ("pre", "pre", [[3, 4, 5], [0, 6, 7], [0, 0, 0]]),
        ("pre", "post", [[1, 2, 3], [0, 6, 7], [0, 0, 0]]),
        ("post", "pre", [[3, 4, 5], [6, 7, 0], [0, 0, 0]]),
        ("post", "post", [[1, 2, 3], [6, 7, 0], [0, 0, 0]]),
    ],
)
def test_pad_sequences_matches_hand_values(padding, truncating, ids):
    got, lengths = pad_sequences(SEQS, maxlen=3, padding=padding, truncating=truncating)
    assert got.tolist() == ids and got.dtype == np.int64
    assert lengths.tolist() == [3, 2, 0]  # real tokens left in each row


def test_pad_sequences_defaults_like_keras_and_pads_to_the_longest():
    ids, lengths = pad_sequences(SEQS, value=9)
    assert ids.tolist() == [[1, 2, 3, 4, 5], [9, 9, 9, 6, 7], [9, 9, 9, 9, 9]]
    assert lengths.tolist() == [5, 2, 0]


@pytest.mark.parametrize("kwargs", [{"padding": "middle"}, {"truncating": "end"}, {"maxlen": 0}])
def test_pad_sequences_rejects_bad_options(kwargs):
    with pytest.raises(ValueError):
        pad_sequences(SEQS, **kwargs)


TEXTS = ["The film is good.", "the film is BAD", "Good good fun!"]


def test_padded_vocabulary_keeps_the_most_frequent_tokens_after_pad_and_unk():
    # counts (lower-cased): good 3, film 2, is 2, the 2, then ".", "!", bad, fun once each
    vocab = Vocab.build(TEXTS, "word", max_size=6, lower=True, newlines=False, pad=True)
    assert vocab.tokens == [PAD, UNK, "film", "good", "is", "the"]
    assert (vocab.pad, vocab.unk) == (0, 1)
    assert vocab.encode("The GOOD, bad film").tolist() == [5, 3, 1, 1, 2]  # ",", "bad" -> <unk>


def test_ties_at_the_cap_go_to_the_earlier_spelling():
    vocab = Vocab.build(["b a c c"], "word", max_size=4, pad=True)
    assert vocab.tokens == [PAD, UNK, "a", "c"]  # c (2) first, then a before b (1 each)


def test_unpadded_vocabulary_is_the_language_model_one():
    vocab = Vocab.build("a b\nb", "word", max_size=10)
    assert vocab.tokens == [UNK, "\n", "a", "b"] and vocab.pad is None


@pytest.mark.parametrize(("pad", "smallest"), [(True, 3), (False, 2)])
def test_vocabulary_too_small_for_its_special_tokens(pad, smallest):
    with pytest.raises(RnnkitError, match=f">= {smallest}"):
        Vocab.build(TEXTS, "word", max_size=smallest - 1, pad=pad)


def test_options_survive_the_checkpoint_dict_and_old_dicts_still_read():
    vocab = Vocab.build(TEXTS, "word", max_size=6, lower=True, newlines=False, pad=True)
    again = Vocab.from_dict(vocab.to_dict())
    assert (again.tokens, again.lower, again.newlines) == (vocab.tokens, True, False)
    old = Vocab.from_dict({"level": "word", "tokens": [UNK, "a"]})  # written before the options
    assert (old.lower, old.newlines) == (False, True)
