"""Char and word vocabularies: build, encode, decode, unknown units, checkpoint round trip."""

from __future__ import annotations

import pytest

from rnnkit.tasks.textgen import Vocab
from rnnkit.tasks.textgen.vocab import UNK, word_split
from rnnkit.train import RnnkitError

TEXT = "ROMEO.\nBut, soft! what light through yonder window breaks?\nIt is the east.\n"


def test_char_vocab_round_trips_text():
    vocab = Vocab.build(TEXT, "char")
    assert vocab.tokens == sorted(set(TEXT))
    assert vocab.decode(vocab.encode(TEXT)) == TEXT


def test_char_encode_of_unknown_characters_explains():
    vocab = Vocab.build(TEXT, "char")
    with pytest.raises(RnnkitError, match="outside the vocabulary: 'â'"):
        vocab.encode("tâte")


def test_word_split_keeps_newlines_and_punctuation():
    assert word_split("But, soft!\nwhat's") == ["But", ",", "soft", "!", "\n", "what's"]


def test_word_vocab_caps_size_and_maps_unknown_words_to_unk():
    vocab = Vocab.build(TEXT, "word", max_size=5)
    assert len(vocab) == 5 and vocab.tokens[0] == UNK
    ids = vocab.encode("the zebra")
    assert vocab.tokens[ids[1]] == UNK


def test_word_decode_puts_spaces_back_like_prose():
    vocab = Vocab.build(TEXT, "word")
    assert vocab.decode(vocab.encode(TEXT)) == TEXT


def test_vocab_survives_the_checkpoint_dict():
    vocab = Vocab.build(TEXT, "word")
    again = Vocab.from_dict(vocab.to_dict())
    assert again.tokens == vocab.tokens and again.level == "word"
