"""Reading tagged files: CoNLL-U (multi-word tokens and empty nodes skipped, UPOS / XPOS /
numbered columns), CoNLL columns (with or without a running index), word/TAG lines,
compressed files; bad input named with its file and line."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import pytest

from rnnkit.errors import RnnkitError
from rnnkit.tasks.tag.formats import read_tagged

CONLLU = """# sent_id = 1
# text = I can't go.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_
2\tca\tcan\tAUX\tMD\t_\t3\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t4:conj\t_
4\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_conllu_skips_multiword_tokens_and_empty_nodes(tmp_path):
    sentences = read_tagged(_write(tmp_path, "a.conllu", CONLLU))
    assert [s.tokens for s in sentences] == [["I", "ca", "n't", "go", "."], ["Hi"]]
    assert sentences[0].tags == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert sentences[0].lines == [3, 5, 6, 8, 9] and sentences[1].lines == [11]


@pytest.mark.parametrize(("column", "first"), [("xpos", "PRP"), ("3", "I"), ("upos", "PRON")])
def test_conllu_tag_columns(tmp_path, column, first):
    sentences = read_tagged(_write(tmp_path, "a.conllu", CONLLU), tag_column=column)
    assert sentences[0].tags[0] == first


def test_conllu_found_by_its_columns_without_the_suffix(tmp_path):
    assert read_tagged(_write(tmp_path, "a.txt", CONLLU))[1].tokens == ["Hi"]


def test_compressed_files_are_read(tmp_path):
    (tmp_path / "a.conllu.xz").write_bytes(lzma.compress(CONLLU.encode()))
    (tmp_path / "a.conllu.gz").write_bytes(gzip.compress(CONLLU.encode()))
    for name in ("a.conllu.xz", "a.conllu.gz"):
        assert len(read_tagged(tmp_path / name)) == 2


def test_conll_columns_tag_last_or_numbered(tmp_path):
    text = "-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n"
    path = _write(tmp_path, "a.conll", text)
    sentences = read_tagged(path)
    assert [s.tokens for s in sentences] == [["EU", "rejects"], ["Peter"]]
    assert [s.tags for s in sentences] == [["B-ORG", "O"], ["B-PER"]]
    assert read_tagged(path, tag_column="2")[0].tags == ["NNP", "VBZ"]


def test_conll_with_a_running_index_and_comments(tmp_path):
    text = "# sent_id = x\n1\ttampa\tB-LOC\t-\t-\n2\tbay\tI-LOC\t-\t-\n"
    sentences = read_tagged(_write(tmp_path, "a.iob2", text), tag_column="3")
    assert sentences[0].tokens == ["tampa", "bay"] and sentences[0].tags == ["B-LOC", "I-LOC"]


def test_slash_lines(tmp_path):
    path = _write(tmp_path, "a.txt", "江/nr  泽民/nr  说/v\n\n1/2/m  \uff0c/w\n")
    sentences = read_tagged(path)
    assert [s.tokens for s in sentences] == [["江", "泽民", "说"], ["1/2", "\uff0c"]]
    assert [s.tags for s in sentences] == [["nr", "nr", "v"], ["m", "w"]]
    assert sentences[1].lines == [3, 3]


def _fails(path, match: str, **kwargs) -> None:
    with pytest.raises(RnnkitError, match=match):
        read_tagged(path, **kwargs)


def test_errors_name_the_file_and_line(tmp_path):
    bad = CONLLU.replace("4\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_", "4\tgo\tgo\tVERB")
    _fails(_write(tmp_path, "a.conllu", bad), r"a\.conllu: line 8 has 4 tab-separated columns")
    _fails(_write(tmp_path, "b.conll", "a\tB-X\nb\n"), "line 2 has 1 columns, line 1 2")
    _fails(_write(tmp_path, "c.conll", "a\tB-X\tO\nb\t_\t_\n"), r"line 2 has no tag in column 3")
    _fails(_write(tmp_path, "d.txt", "a/B b/C\nfine c\n"), "line 2: token 'fine' is not word/TAG",
           fmt="slash")  # fmt: skip
    _fails(_write(tmp_path, "e.conll", "a\tB-X\n"), "the tag column 5 is missing", tag_column="5")


def test_a_file_in_none_of_the_formats(tmp_path):
    _fails(_write(tmp_path, "a.txt", "Hello\n"), "in none of the formats")
    _fails(_write(tmp_path, "b.txt", "It was a dark night.\nAnd stormy too, very much so.\n"),
           "not a CoNLL file")  # fmt: skip


def test_empty_binary_and_missing_files(tmp_path):
    _fails(_write(tmp_path, "a.conll", " \n\n"), "the file is empty")
    (tmp_path / "b.conll").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    _fails(tmp_path / "b.conll", "is a binary file")
    (tmp_path / "c.conll").write_bytes("a\tB-X\n".encode("utf-16"))
    _fails(tmp_path / "c.conll", "binary file|not UTF-8")
    _fails(tmp_path / "nope.conll", "no such file")
    _fails(tmp_path, "not a regular file")


def test_unknown_tag_column(tmp_path):
    _fails(_write(tmp_path, "a.conllu", CONLLU), "unknown --tag-column 'feats'", tag_column="feats")
    path = _write(tmp_path, "b.conll", "a\tB-X\n")
    _fails(path, "names a CoNLL-U column", tag_column="upos")
    _fails(path, "unknown --tag-column '0'", tag_column="0")


SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"


def test_ud_english_ewt_dev_reads_as_published():
    path = SHARED / "ud_english_ewt" / "en_ewt-ud-dev.conllu.xz"
    if not path.exists():
        pytest.skip(f"{path} is absent (shared benchmark data, not part of a clone)")
    sentences = read_tagged(path)
    assert len(sentences) == 2001 and sum(len(s.tokens) for s in sentences) == 25147
    assert {t for s in sentences for t in s.tags} <= {
        "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
        "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
    }  # fmt: skip


def test_universal_ner_dev_reads_with_its_tag_column():
    path = SHARED / "uner_english_ewt" / "en_ewt-ud-dev.iob2.xz"
    if not path.exists():
        pytest.skip(f"{path} is absent (shared benchmark data, not part of a clone)")
    sentences = read_tagged(path, tag_column="3")
    assert len(sentences) == 2001
    assert {t for s in sentences for t in s.tags} == {
        "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"
    }  # fmt: skip
