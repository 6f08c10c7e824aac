"""``rnnkit plan``: shows the measured plan and forgets it."""

from __future__ import annotations

import json

from rnnkit.cli import main
from rnnkit.engine import autotune
from rnnkit.engine.native import heap


def _with_entry(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    entry = {"path": "torch", "ms": {"torch": 1.0, "rnnkit": 2.0}}
    monkeypatch.setattr(autotune, "_table", {"gru|L1|B32": entry})
    monkeypatch.setattr(autotune, "_loaded", True)
    return entry


def test_plan_shows_machine_and_buckets(monkeypatch, tmp_path, capsys):
    _with_entry(monkeypatch, tmp_path)
    assert main(["plan"]) == 0
    out = capsys.readouterr().out
    assert autotune.machine()["cpu_model"] in out and str(tmp_path) in out
    assert "gru|L1|B32" in out and "-> torch" in out and "measuring off" in out
    assert f"glibc heap thresholds: {heap.planned()}" in out


def test_plan_says_what_the_heap_thresholds_get(monkeypatch, capsys):
    monkeypatch.setattr(heap, "_state", None)  # the extension not loaded yet
    monkeypatch.setenv("RNNKIT_HEAP", "default")
    assert main(["plan", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["heap"] == "left to glibc (RNNKIT_HEAP=default)"
    monkeypatch.setattr(heap, "_reason_not_to", lambda: None)
    assert main(["plan"]) == 0
    want = "pinned when the native extension loads: mmap 32 MiB, trim 64 MiB"
    assert f"glibc heap thresholds: {want}" in capsys.readouterr().out


def test_plan_json_and_reset(monkeypatch, tmp_path, capsys):
    entry = _with_entry(monkeypatch, tmp_path)
    autotune._save()
    assert main(["plan", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["entries"] == {"gru|L1|B32": entry} and shown["measuring"] is False
    assert main(["plan", "--reset"]) == 0
    assert autotune.entries() == {} and not autotune.cache_file().exists()
