"""Atomic writes: the target is the old file or the whole new one, never a part."""

from __future__ import annotations

import json

import pytest

from rnnkit.atomic import atomic_write, write_json_atomic, write_text_atomic


def test_writes_text_and_json_with_the_usual_mode(tmp_path):
    path = write_json_atomic(tmp_path / "sub" / "a.json", {"x": [1, 2]})
    assert json.loads(path.read_text()) == {"x": [1, 2]} and path.read_text().endswith("\n")
    assert write_text_atomic(tmp_path / "b.txt", "hi").read_text() == "hi"


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_text_atomic(tmp_path / "c.txt", "old")

    def broken(f):
        f.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]
