"""Smoke test of benchmarks/bf16.py on a tiny config, inference and training: every contender
timed in float32 and under bfloat16 autocast, errors within bfloat16 rounding, JSON and
markdown written, the thread count restored. No timing asserts."""

from __future__ import annotations

import json
import math

import pytest
import torch

from helpers import load_benchmark
from rnnkit.engine.native import compiler_available

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")


@pytest.fixture(scope="module")
def bf16():
    return load_benchmark("bf16")


@pytest.mark.parametrize("mode", ["infer", "train"])
def test_each_contender_runs_in_both_dtypes_within_rounding(bf16, mode, tmp_path):
    threads = torch.get_num_threads()
    argv = ["--mode", mode, "--cells", "gru,rnn", "--config", "3,4,5,8", "--repeats", "1"]
    argv += ["--warmup", "0", "--threads", "1", "--out-dir", str(tmp_path), "--name", "tiny"]
    assert bf16.main(argv) == 0
    assert torch.get_num_threads() == threads, "main() must restore the thread count"
    payload = json.loads((tmp_path / "tiny.json").read_text())
    assert payload["mode"] == mode and payload["machine"]["cpu_model"]
    rows = payload["rows"]
    assert [(r["cell"], r["config"]) for r in rows] == [("gru", "B3 T4 I5 H8"),
                                                        ("rnn", "B3 T4 I5 H8")]  # fmt: skip
    for row in rows:
        for who in ("auto", "native", "torch.nn"):
            for dtype in ("f32", "bf16"):
                assert row[f"{who} {dtype} wall_ms"] > 0 and row[f"{who} {dtype} cpu_ms"] >= 0
            assert math.isfinite(row[f"{who} err"]) and row[f"{who} err"] < 0.05, (who, row)
    text = (tmp_path / "tiny.md").read_text()
    assert text.startswith("# Training" if mode == "train" else "# No-grad inference")
    assert text.count("\n| gru |") == 1 and text.count("\n| rnn |") == 1
