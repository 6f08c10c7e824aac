"""Pairs files, the bundled CMU dictionary, the split by source and the vocabularies."""

from __future__ import annotations

import pytest
from translate_helpers import reversals, write_jsonl, write_tsv

from rnnkit.errors import RnnkitError
from rnnkit.tasks.translate import SeqVocab, load_cmudict, read_pairs, split_by_source
from rnnkit.tasks.translate.vocab import BOS, EOS, PAD, UNK, encode_batch


def test_cmudict_has_every_pronunciation_of_a_word_as_its_own_pair():
    pairs = load_cmudict()
    assert len(pairs) == 135166  # every line of cmudict.dict 1.1.3
    assert pairs[0] == ("'bout", "B AW1 T")
    words = {}
    for word, phones in pairs:
        words.setdefault(word, []).append(phones)
    assert words["tomato"] == ["T AH0 M EY1 T OW2", "T AH0 M AA1 T OW2"]
    assert words["aalborg"][0] == "AO1 L B AO0 R G"  # its "# place, danish" comment dropped
    assert not any("#" in p or "(" in w for w, p in pairs)


def test_cmudict_without_stress_drops_only_the_vowels_digits_and_merged_alternates():
    stressed, plain = load_cmudict(), load_cmudict(stress=False)
    phones = {t for _, p in plain for t in p.split()}
    assert len(phones) == 39 and not any(c.isdigit() for t in phones for c in t)
    assert plain[0] == ("'bout", "B AW T")
    words: dict[str, list[str]] = {}
    for word, p in plain:
        words.setdefault(word, []).append(p)
    assert words["tomato"] == ["T AH M EY T OW", "T AH M AA T OW"]
    # pronunciations that differ only in stress become one pair: every word keeps at least one
    # and no word lists the same pronunciation twice
    assert {w for w, _ in plain} == {w for w, _ in stressed}
    assert all(len(set(v)) == len(v) for v in words.values())
    expected = {(w, " ".join(t.rstrip("012") for t in p.split())) for w, p in stressed}
    assert set(plain) == expected and len(plain) == len(expected) < len(stressed)


def test_split_keeps_every_target_of_a_source_together_and_is_seeded():
    pairs = [(w, t) for w, t in load_cmudict()[:3000]]
    train, val, test = split_by_source(pairs, 0.05, 0.05, seed=0)
    assert sorted([*train, *val, *test]) == list(range(len(pairs)))
    sources = [{pairs[i][0] for i in part} for part in (train, val, test)]
    assert not (sources[0] & sources[1] or sources[0] & sources[2] or sources[1] & sources[2])
    n = len({w for w, _ in pairs})
    assert (len(sources[1]), len(sources[2])) == (round(0.05 * n), round(0.05 * n))
    again = split_by_source(list(reversed(pairs)), 0.05, 0.05, seed=0)
    flipped = {pairs[len(pairs) - 1 - i][0] for i in again[2]}
    assert flipped == sources[2]  # the split depends on the sources, not their order
    assert {pairs[i][0] for i in split_by_source(pairs, 0.05, 0.05, seed=1)[2]} != sources[2]


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl"])
def test_pairs_files_of_each_format_read_alike(tmp_path, suffix):
    rows = [("a  b", "x"), ("c", "y z")]
    path = tmp_path / f"p{suffix}"
    if suffix == ".jsonl":
        write_jsonl(path, [{"src": s, "tgt": t, "other": 1} for s, t in rows])
    else:
        write_tsv(path, rows, ("id", "src", "tgt"), "\t" if suffix == ".tsv" else ",")
        path.write_text("".join(f"{line}\n" for line in _prefixed(path)), encoding="utf-8")
    assert read_pairs(path, "src", "tgt") == [("a b", "x"), ("c", "y z")]


def _prefixed(path):
    """The file's lines with a first column added (the header has three names)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    sep = "\t" if path.suffix == ".tsv" else ","
    return [lines[0]] + [f"{i}{sep}{line}" for i, line in enumerate(lines[1:])]


def test_a_comma_file_read_as_tsv_says_the_delimiter_may_be_wrong(tmp_path):
    path = write_tsv(tmp_path / "p.tsv", reversals(5), delimiter=",")
    with pytest.raises(RnnkitError, match="no column 'source'.*is the delimiter right"):
        read_pairs(path)


@pytest.mark.parametrize(("level", "text", "tokens"), [
    ("char", "ab c", ["a", "b", " ", "c"]),
    ("space", "AE1  B IY0", ["AE1", "B", "IY0"]),
    ("word", "It's here, ok?", ["It's", "here", ",", "ok", "?"]),
])  # fmt: skip
def test_vocab_levels_split_and_round_trip(level, text, tokens):
    vocab = SeqVocab.build([text], level)
    assert vocab.tokens[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert [vocab.tokens[i] for i in vocab.encode(text)] == tokens
    assert vocab.decode([BOS, *vocab.encode(text), EOS, 5]) == (
        text if level == "char" else " ".join(tokens)
    )


def test_vocab_caps_by_frequency_and_maps_the_rest_to_unk():
    vocab = SeqVocab.build(["a a a b b c"], "space", max_size=6)
    assert vocab.tokens == ["<pad>", "<bos>", "<eos>", "<unk>", "a", "b"]
    assert vocab.encode("c a") == [UNK, 4]
    assert SeqVocab.from_dict(vocab.to_dict()).tokens == vocab.tokens


def test_encode_batch_frames_targets_and_pads_after():
    vocab = SeqVocab.build(["x y"], "space")
    ids, lengths = encode_batch(vocab, ["x y", "y"], eos=True, bos=True)
    x, y = vocab.encode("x y")
    assert ids.tolist() == [[BOS, x, y, EOS], [BOS, y, EOS, PAD]]
    assert lengths.tolist() == [4, 3]
