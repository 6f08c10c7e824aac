"""benchmarks/summary.py: the per-goal tables from a results JSON, and its errors on bad files."""

from __future__ import annotations

import json

from helpers import load_benchmark


def _row(cell, mode, speedup, engine="native", **extra):
    return {
        "cell": cell,
        "layout": "1L uni",
        "config": "B2 T5 I3 H4",
        "config_id": 0,
        "mode": mode,
        "speedup": speedup,
        "engine": engine,
        "error": None,
        **extra,
    }


def test_tables_hold_the_rows_speedups_and_the_torch_mark(tmp_path):
    data = {
        "command": "python benchmarks/run.py --configs tiny",
        "machine": {
            "cpu_model": "CPU",
            "cpu_count": 2,
            "torch": "2.13.0",
            "threads": 2,
            "peak_gflops": 100.0,
        },
        "rows": [
            _row(
                "rnn",
                "train",
                2.5,
                pct_peak_rnnkit=71.0,
                saved_bytes_torch={"total": 2e6},
                saved_bytes_rnnkit={"total": 1e6},
            ),
            _row("lstm", "train", 0.98, engine="torch", pct_peak_rnnkit=90.0),
            _row("lstm", "packed", 3.0, rnnkit_ms=6.0, padded_rnnkit_ms=8.0),
            _row("gru", "stream", 1.5),
        ],
    }
    summary = load_benchmark("summary")
    text = summary.summarize(data)
    assert "| B2 T5 I3 H4 | 2.50 | 0.98 (torch) | - |" in text  # train: rnn, lstm, gru
    assert "| B2 T5 I3 H4 | 0.75 |" in text  # packed / padded of rnnkit: 6 / 8
    assert "2.0/1.0" in text  # saved MB torch / rnnkit
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "s.md"
    assert summary.main([str(path), "--out", str(out)]) == 0
    assert out.read_text() == text


def test_bad_files_are_refused_with_exit_2(tmp_path, capsys):
    summary = load_benchmark("summary")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert summary.main([str(bad)]) == 2
    assert "cannot read" in capsys.readouterr().err
    bad.write_text(json.dumps({"x": 1}))
    assert summary.main([str(bad)]) == 2
    assert "no 'rows'" in capsys.readouterr().err
