"""``--level char``: texts cut into single characters (vocabulary, unknown characters, the
checkpoint carrying the level to prediction), and a model that learns a DNA motif from them."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from classify_helpers import train_args, write_csv

from rnnkit.cli import main
from rnnkit.data.text import Vocab
from rnnkit.errors import RnnkitError
from rnnkit.tasks.classify import (
    METRICS_FILE,
    TRAIN_DEFAULTS,
    ClassifyConfig,
    encode_text,
    encode_texts,
    level_vocab,
    load_classifier,
    train,
)

MOTIF = "GATTACA"


def dna_motif_rows(n: int, length: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` random DNA strings, labelled ``yes`` when ``MOTIF`` occurs in them (every other
    one). Half the ``no`` strings hold a near miss, the motif with one letter changed, so only
    the whole motif tells the classes apart."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 1
        while True:
            s = "".join(rng.choice(list("ACGT"), length))
            if positive or i % 4 == 0:
                piece = list(MOTIF)
                if not positive:
                    k = int(rng.integers(len(MOTIF)))
                    piece[k] = str(rng.choice([c for c in "ACGT" if c != MOTIF[k]]))
                at = int(rng.integers(length - len(MOTIF) + 1))
                s = s[:at] + "".join(piece) + s[at + len(MOTIF) :]
            if (MOTIF in s) == positive:
                break
        rows.append((s, "yes" if positive else "no"))
    return rows


def test_char_vocabulary_keeps_the_most_frequent_characters_after_pad_and_unk():
    vocab = level_vocab(["abba c", "Cb"], "char", max_size=5, lower=True)
    # counts b 3, a 2, c 2, ' ' 1: the three most frequent (ties by spelling), sorted
    assert vocab.tokens == ["<pad>", "<unk>", "a", "b", "c"] and vocab.level == "char"
    kept_case = level_vocab(["abba c", "Cb"], "char", max_size=10, lower=False)
    assert kept_case.tokens == ["<pad>", "<unk>", " ", "C", "a", "b", "c"]


def test_char_encoding_maps_every_character_and_unknown_ones_to_unk():
    vocab = level_vocab(["GATTACA"], "char", max_size=10, lower=True)
    index = {c: vocab.tokens.index(c) for c in "acgt"}
    expected = [index[c] for c in "tag"] + [1, 1, index["a"]]  # 'N' and ' ' unseen
    assert encode_text(vocab, "TAGN a").tolist() == expected
    data = encode_texts(vocab, ["GATTACA", "CAT"], maxlen=4, truncating="post")
    assert data.ids.tolist() == [[index[c] for c in "gatt"], [index[c] for c in "cat"] + [0]]
    assert data.lengths.tolist() == [4, 3]


def test_word_level_is_the_shared_word_vocabulary():
    texts = ["It's GREAT, isn't it?", "great fun"]
    vocab = level_vocab(texts, "word", max_size=6, lower=True)
    assert vocab == Vocab.build(texts, "word", 6, lower=True, newlines=False, pad=True)
    assert encode_text(vocab, "Great fun!").tolist() == vocab.encode("Great fun!").tolist()


def test_checkpoint_keeps_the_level_for_prediction(tmp_path, capsys):
    data = write_csv(tmp_path / "dna.csv", dna_motif_rows(40, 20))
    out = tmp_path / "dna"
    assert main(train_args(data, out, "--steps", "2", "--level", "char")) == 0
    clf = load_classifier(out)
    assert clf.config.level == "char" and clf.vocab.level == "char"
    assert set(clf.vocab.tokens) == {"<pad>", "<unk>", "a", "c", "g", "t"}
    labels, probs = clf.predict(["GATTACA", "NNNN ACGT"])  # N: outside the vocabulary
    assert set(labels) <= {"no", "yes"} and probs.shape == (2,)
    capsys.readouterr()
    argv = ["classify", "predict", "--checkpoint", str(out), "GATTACAGG"]
    assert main([*argv, "--backend", "reference"]) == 0
    assert capsys.readouterr().out.split("\t")[0] in ("no", "yes")


def test_an_unknown_level_is_refused_before_anything_is_written(tmp_path):
    data = write_csv(tmp_path / "dna.csv", dna_motif_rows(20, 20))
    cfg = ClassifyConfig(data=str(data), level="byte")
    with pytest.raises(RnnkitError, match="--level must be one of word, char; got byte"):
        train(cfg, dataclasses.replace(TRAIN_DEFAULTS, out=str(tmp_path / "x"), steps=1))
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_a_char_level_gru_learns_a_dna_motif(tmp_path):
    data = write_csv(tmp_path / "dna.csv", dna_motif_rows(400, 30))
    out = tmp_path / "learn"
    argv = train_args(data, out, "--level", "char", "--steps", "240", "--eval-every", "80")
    argv += ["--hidden", "16", "--batch-size", "16", "--pooling", "max", "--lr", "0.02"]
    argv += ["--dropout", "0", "--val-split", "0.1"]
    assert main(argv) == 0
    report = json.loads((out / METRICS_FILE).read_text())
    assert report["majority_baseline"]["accuracy"] == 0.5
    assert report["accuracy"] >= 0.95, report
