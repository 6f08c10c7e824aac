"""``rnnkit plan``: shows the measured plan and forgets it."""

from __future__ import annotations

import json

from rnnkit.cli import main
from rnnkit.engine import autotune


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


def test_plan_json_and_reset(monkeypatch, tmp_path, capsys):
    entry = _with_entry(monkeypatch, tmp_path)
    autotune._save()
    assert main(["plan", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["entries"] == {"gru|L1|B32": entry} and shown["measuring"] is False
    assert main(["plan", "--reset"]) == 0
    assert autotune.entries() == {} and not autotune.cache_file().exists()
