"""The shared reader of user text files: each way a file can be wrong gives one line naming
the flag, the file and what is wrong; a good file comes back as text."""

import gzip
import lzma

import pytest

from rnnkit.data.files import read_text_file, read_text_lines
from rnnkit.errors import RnnkitError


def _fails(match: str, *args, **kwargs) -> str:
    with pytest.raises(RnnkitError, match=match) as info:
        read_text_file(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_good_text_comes_back_without_its_byte_order_mark(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffhé\r\nllo\n".encode())
    assert read_text_file(path, "--data") == "hé\r\nllo\n"
    path.write_bytes("caf\xe9\n".encode("latin-1"))
    assert read_text_file(path, "--data", "latin-1") == "café\n"


def test_missing_file_and_folder(tmp_path):
    _fails(r"^--data .*nope\.txt: no such file$", tmp_path / "nope.txt", "--data")
    _fails(r"^--input .*: not a regular file$", tmp_path, "--input")


def test_undecodable_byte_names_its_line_and_the_encoding_flag_where_there_is_one(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_bytes(b"one\ntwo\nthr\xe8e\n")
    message = _fails("line 3 has byte 0xe8", path, "--data", encoding_flag=True)
    assert "a.tsv is not valid UTF-8 text: line 3" in message
    assert message.endswith("pass its encoding, e.g. --encoding latin-1")
    assert "--encoding" not in _fails("line 3", path, "--data")  # no such flag to suggest


def test_unknown_encoding_is_named_before_the_file_is_read(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("x")
    _fails(r"^--encoding klingon: unknown text encoding$", path, "--data", "klingon")


def test_binary_file(tmp_path):
    path = tmp_path / "a.conll"
    path.write_bytes(b"\x7fELF\x00\x01\x02")
    _fails(r"is a binary file, not tagged text$", path, "--data", what="tagged text")
    path.write_bytes("hi\n".encode("utf-16"))  # NUL bytes are text in UTF-16
    assert read_text_file(path, "--data", "utf-16") == "hi\n"


def test_compressed_files_are_opened_only_where_asked(tmp_path):
    (tmp_path / "a.xz").write_bytes(lzma.compress(b"tagged\n"))
    (tmp_path / "a.gz").write_bytes(gzip.compress(b"tagged\n"))
    for name in ("a.xz", "a.gz"):
        assert read_text_file(tmp_path / name, "--data", compressed=True) == "tagged\n"
    _fails("binary file", tmp_path / "a.xz", "--data")  # not asked: its bytes as they are
    (tmp_path / "b.xz").write_bytes(b"not xz at all")
    _fails(r"b\.xz: not a valid \.xz file$", tmp_path / "b.xz", "--data", compressed=True)


def test_lines_are_the_non_blank_ones(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one\n\n  \ntwo words\n")
    assert read_text_lines(path, "--input") == ["one", "two words"]
    path.write_text("\n \n")
    with pytest.raises(RnnkitError, match=r"--input .*: no texts in the file$"):
        read_text_lines(path, "--input")
