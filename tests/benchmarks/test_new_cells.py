"""Smoke tests of benchmarks/new_cells.py on a tiny config: it runs every cell, checks each
user-style loop against the rnnkit layer, times the loop under torch.compile (Dynamo's "eager"
backend here: the same plumbing as inductor without minutes of C++ compilation), and writes
sane JSON and markdown. No timing asserts."""

from __future__ import annotations

import json
import math
import sys

import pytest
import torch

from helpers import load_benchmark

BACKEND = "eager"  # torch.compile backend of the tiny runs


@pytest.fixture(scope="module")
def new_cells():
    return load_benchmark("new_cells")


@pytest.fixture(scope="module")
def tiny(new_cells, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    argv = ["--config", "3,4,5,6", "--repeats", "1", "--warmup", "0", "--threads", "1"]
    argv += ["--compile", BACKEND]
    argv += ["--peak-n", "64", "--out-dir", str(out), "--name", "tiny"]
    threads = torch.get_num_threads()
    assert new_cells.main(argv) == 0
    assert torch.get_num_threads() == threads, "main() must restore the thread count"
    return out, json.loads((out / "tiny.json").read_text())


def test_every_cell_has_a_checked_row_with_positive_times(new_cells, tiny):
    _, payload = tiny
    rows = payload["rows"]
    assert [r["cell"] for r in rows] == list(new_cells.LOOPS)
    for row in rows:
        assert row["config"] == "B3 T4 I5 H6" and row["engine"] in ("native", "fused")
        assert row["max_rel_diff_f64"] < 1e-9, "the loop and the rnnkit layer should agree"
        fields = ("auto_ms", "fused_ms", "loop_ms", "compiled_ms", "torch_lstm_ms",
                  "loop_over_auto", "compiled_over_auto", "compile_s")  # fmt: skip
        for field in fields:
            assert isinstance(row[field], float) and math.isfinite(row[field]) and row[field] > 0
        assert row["compile_status"] == "ok" and row["compiled_rel_diff"] < 1e-5
        assert row["compiled_over_auto"] == row["compiled_ms"] / row["auto_ms"]


def test_machine_load_and_markdown_are_written(tiny):
    out, payload = tiny
    machine = payload["machine"]
    assert machine["threads"] == 1 and len(machine["loadavg_start"]) == 3
    assert machine["compile"] == BACKEND and isinstance(machine["cpu_flags"], list)
    md = (out / "tiny.md").read_text()
    assert "| cell |" in md and md.count("\n| layernorm_lstm |") == 1
    assert "| compiled ms | compile s |" in md and "| compiled/auto |" in md
    assert "- cpu flags: " in md and f"(backend {BACKEND})" in md
    assert not list(out.glob("*.tmp")), "temp files must be replaced, not left behind"


def test_the_output_check_catches_a_loop_that_computes_something_else(new_cells):
    layer = new_cells.make_layer("layernorm_gru", 3, 4)
    loop = new_cells.LOOPS["layernorm_gru"].from_layer(layer)
    x = torch.randn(5, 2, 3)
    new_cells.check_loop(layer, loop, x)  # equal weights: passes
    with torch.no_grad():
        loop.ln_hh.weight.mul_(1.5)
    with pytest.raises(AssertionError, match="disagree"):
        new_cells.check_loop(layer, loop, x)


@pytest.mark.parametrize("argv", [["--cells", "lstm"], ["--config", "1,2,3"], ["--name", "a/b"]])
def test_bad_options_are_errors(new_cells, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        new_cells.parse_args(argv)
    assert exc.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_gemm_floor_counts_forward_and_backward_gemms(new_cells):
    """3 · 2 · B·T · (G·I + G·H) FLOPs at the peak; IndRNN's diagonal W_hh is no GEMM."""
    cfg = new_cells.Config(B=3, T=4, I=5, H=6)
    lstm = new_cells.make_layer("layernorm_lstm", 5, 6)  # G = 24
    assert new_cells.gemm_floor_ms(lstm, cfg, 1.0) == pytest.approx(
        6 * 12 * (24 * 5 + 24 * 6) / 1e6
    )
    indrnn = new_cells.make_layer("indrnn", 5, 6)  # G = 6, W_hh a (6,) vector
    assert new_cells.gemm_floor_ms(indrnn, cfg, 2.0) == pytest.approx(6 * 12 * 6 * 5 / 2e6)


def test_goal_says_out_of_reach_where_the_gemm_floor_forbids_5x(new_cells, tiny):
    _, payload = tiny
    row = dict(payload["rows"][0], loop_over_auto=2.0, auto_over_lstm=1.0)
    assert "5x out of reach" in new_cells.table_cells(dict(row, loop_over_floor=3.0))[-2]
    assert "5x no," in new_cells.table_cells(dict(row, loop_over_floor=9.0))[-2]


def _options(new_cells, **kw):
    return new_cells.Options(repeats=1, warmup=0, compile=BACKEND, **kw)


def test_rows_longer_than_compile_max_steps_leave_the_compiled_loop_out(new_cells):
    cfg = new_cells.Config(B=2, T=3, I=3, H=4)
    row = new_cells.bench("indrnn", cfg, _options(new_cells, compile_max_steps=2), 1.0)
    assert row["compiled_ms"] is None and row["compiled_over_auto"] is None
    assert row["compile_status"] == "skipped (T 3 > --compile-max-steps 2)"
    cells = dict(zip(new_cells.COLUMNS, new_cells.table_cells(row)))
    assert cells["compiled ms"] == row["compile_status"]
    assert cells["compile s"] == cells["compiled/auto"] == "-"
    off = new_cells.bench("indrnn", cfg, new_cells.Options(repeats=1, warmup=0, compile="off"), 1.0)
    assert off["compile_status"] == "off" and off["compiled_ms"] is None


def test_a_compilation_that_fails_is_reported_not_raised(new_cells):
    compile_loop = sys.modules["compiled_loop"].compile_loop

    def broken(graph, example_inputs):  # a torch.compile backend that cannot compile
        raise RuntimeError("no compiler here\nmore detail")

    layer = new_cells.make_layer("cifg_lstm", 3, 4)
    loop = new_cells.LOOPS["cifg_lstm"].from_layer(layer)
    x = torch.randn(3, 2, 3, requires_grad=True)
    step, info = compile_loop(loop, x, lambda m: new_cells.fwd_bwd(m, x, None), broken, 10)
    assert step is None and info["compile_s"] is None
    assert (
        info["compile_status"].startswith("failed (")
        and "no compiler here" in info["compile_status"]
    )
    assert "more detail" not in info["compile_status"], "one line in the table"


def test_compile_options_are_checked(new_cells, capsys):
    assert new_cells.parse_args(["--compile", "off"]).compile == "off"
    assert new_cells.parse_args(["--compile-max-steps", "50"]).compile_max_steps == 50
    with pytest.raises(SystemExit):
        new_cells.parse_args(["--compile", "tvm"])
    with pytest.raises(SystemExit):
        new_cells.parse_args(["--compile-max-steps", "0"])
