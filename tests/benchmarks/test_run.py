"""Smoke tests of benchmarks/run.py on a tiny config: it runs, and writes sane JSON and markdown.

No timing assertions: only that every cell has rows and the numbers are well-formed.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

import rnnkit
from helpers import load_benchmark


@pytest.fixture(scope="module")
def run():
    return load_benchmark("run")


@pytest.fixture(scope="module")
def tiny_results(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    argv = ["--config", "2,5,3,4", "--repeats", "1", "--threads", "1", "--peak-n", "256"]
    argv += ["--out-dir", str(out), "--name", "tiny"]
    threads = torch.get_num_threads()
    assert run.main(argv) == 0
    assert torch.get_num_threads() == threads, "main() must restore the thread count"
    return out, json.loads((out / "tiny.json").read_text())


def test_json_has_rows_for_every_cell_layout_and_mode(tiny_results):
    _, payload = tiny_results
    rows = payload["rows"]
    for cell in ("rnn", "lstm", "gru"):
        modes = {(r["layout"], r["mode"]) for r in rows if r["cell"] == cell}
        expected = {"train", "infer", "stream"} | ({"packed"} if cell != "rnn" else set())
        for layout in ("1L uni", "2L bi"):
            assert {m for lay, m in modes if lay == layout} == expected, (cell, layout)
    assert all(r["config"] == "B2 T5 I3 H4" and r["backend"] == "auto" for r in rows)


def test_speedups_and_times_are_positive_floats(tiny_results):
    _, payload = tiny_results
    for row in payload["rows"]:
        assert row["error"] is None, row["error"]
        for field in ("speedup", "torch_ms", "rnnkit_ms", "gflops_rnnkit"):
            value = row[field]
            assert isinstance(value, float) and math.isfinite(value) and value > 0, (field, row)
        if row["mode"] == "train":
            assert row["loop_ms"] > 0
            assert row["saved_bytes_torch"]["total"] > 0
            assert row["saved_bytes_rnnkit"]["total"] > 0
        if row["mode"] != "stream":
            assert row["max_abs_diff"] < 1e-4, "rnnkit and torch.nn should agree on the output"


def test_machine_info_and_markdown_are_written(tiny_results):
    out, payload = tiny_results
    machine = payload["machine"]
    assert machine["peak_gflops"] > 0 and machine["torch"] == torch.__version__
    assert machine["threads"] == 1
    # what speed depends on: the CPU's SIMD flags and caches, the native build, the plan
    assert isinstance(machine["cpu_flags"], list) and "native_build" in machine
    assert machine["autotune"] is False and payload["plan"] == {}  # the suite measures nothing
    md = (out / "tiny.md").read_text()
    assert "cpu flags:" in md and "measured plan off" in md
    assert "| cell |" in md and md.count("\n| rnn |") >= 6
    assert not list(out.glob("*.tmp")), "temp files must be replaced, not left behind"


def test_every_registered_backend_is_accepted(run):
    opts = run.parse_args(["--backends", ",".join(rnnkit.BACKENDS)])
    assert opts.backends == tuple(rnnkit.BACKENDS)


@pytest.mark.parametrize(
    "argv",
    [["--backends", "no-such-backend"], ["--cells", "lstm,transformer"], ["--configs", "9"]],
)
def test_bad_options_are_errors(run, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        run.parse_args(argv)
    assert exc.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_saved_bytes_sees_tensors_kept_on_ctx(run):
    from timing import saved_bytes  # importable once run.py is loaded

    class KeepsOnCtx(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.kept = [x * 2]  # (100,) float32 = 400 bytes, invisible to saved-tensor hooks
            return x * 3

        @staticmethod
        def backward(ctx, dy):
            return dy * 3

    x = torch.randn(100, requires_grad=True)
    got = saved_bytes(lambda: KeepsOnCtx.apply(x).sum())
    assert got["ctx"] == 400 and got["total"] == got["hooks"] + 400


def test_flops_count_the_gemms_of_every_layer_direction(run):
    from grid import CONFIGS, LAYOUTS, forward_flops, mode_flops

    cfg, uni, bi = CONFIGS[0], LAYOUTS[0], LAYOUTS[1]  # B32 T100 I128 H256
    assert forward_flops(4, cfg, uni) == 2 * 100 * 32 * 1024 * (128 + 256)
    layer2 = 2 * 100 * 32 * 1024 * (2 * 256 + 256)  # layer 2 reads both directions: I = 2H
    assert forward_flops(4, cfg, bi) == 2 * (forward_flops(4, cfg, uni) + layer2)
    assert mode_flops(4, cfg, uni, "train", None) == 3 * forward_flops(4, cfg, uni)
    assert mode_flops(4, cfg, uni, "stream", None) == forward_flops(4, cfg, uni) // 32
