"""tools/sanitize.py: which sanitizer reports count against rnnkit's extension."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "sanitize.py"


def _tool():
    spec = importlib.util.spec_from_file_location("sanitize", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(kind: str, frame: str) -> str:
    head = {"thread": "WARNING: ThreadSanitizer: data race (pid=1)",
            "address": "ERROR: AddressSanitizer: heap-buffer-overflow"}[kind]  # fmt: skip
    return f"==================\n{head}\n  Read of size 4 by thread T1:\n    #0 f ({frame}+0x10)\n"


def test_reports_are_split_by_whether_a_frame_is_in_rnnkit_native(tmp_path):
    ours = _report("thread", "rnnkit_native_avx512_0123456789ab_thread.so")
    torch_own = _report("thread", "libtorch_cpu.so")
    (tmp_path / "log.1").write_text(torch_own + ours + torch_own)
    (tmp_path / "log.2").write_text(_report("address", "rnnkit_native_avx2_0123_address.so"))
    found, others = _tool().reports(tmp_path)
    assert len(found) == 2 and len(others) == 2
    assert "rnnkit_native_avx512" in found[0] and "AddressSanitizer" in found[1]
    assert all("libtorch_cpu" in r for r in others)


def test_a_race_counts_where_its_racing_access_runs_rnnkit(tmp_path):
    """Torch's access on a libgomp thread to memory an rnnkit team used before (a barrier on the
    main thread's stack, seen in a run) is not ours; our access racing torch's earlier one is."""
    access = "  {} of size 8 at 0x7ffc by thread T{}:\n    #0 f ({}+0x10)\n"
    head = "WARNING: ThreadSanitizer: data race (pid=1)\n"
    ours_then_torch = (
        head
        + access.format("Read", 3, "libtorch_cpu.so")
        + access.format("Previous atomic write", 11, "rnnkit_native_avx512_0123_thread.so")
    )
    torch_then_ours = head + access.format("Write", 11, "rnnkit_native_avx512_0123_thread.so")
    torch_then_ours += access.format("Previous read", 3, "libtorch_cpu.so")
    (tmp_path / "log.1").write_text(ours_then_torch + torch_then_ours)
    found, others = _tool().reports(tmp_path)
    assert found == [torch_then_ours] and others == [ours_then_torch]


def test_no_log_means_no_report(tmp_path):
    assert _tool().reports(tmp_path) == ([], [])


def test_an_unknown_sanitizer_is_refused_with_usage(capsys):
    assert _tool().main(["memory"]) == 2
    assert "usage" in capsys.readouterr().err
