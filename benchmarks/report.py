"""Reporting: machine info, the results table (text and markdown), and atomic file writes."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

import torch

import rnnkit
from rnnkit.engine import autotune
from rnnkit.engine.native import heap

__all__ = [
    "COLUMNS",
    "fresh_plan",
    "machine_info",
    "markdown",
    "table_cells",
    "text_table",
    "write_atomic",
    "write_json",
]


def fresh_plan() -> str:
    """Measuring on, in a new empty plan directory (what a first call on a new machine sees);
    returns its path. Call before the first layer call (autotune reads both lazily)."""
    os.environ[autotune.ENV] = "1"
    os.environ["RNNKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="rnnkit_plan_")
    return os.environ["RNNKIT_CACHE_DIR"]


COLUMNS = (
    "cell",
    "layout",
    "config",
    "mode",
    "backend",
    "torch ms",
    "rnnkit ms",
    "speed-up",
    "GFLOP/s t/r",
    "%peak t/r",
    "loop ms",
    "saved MB t/r",
    "max|Δ|",
    "note",
)


def _git_rev() -> str | None:
    """HEAD of the checkout this runs from, with '+dirty' when the work tree has changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+dirty" if dirty else "")


def machine_info(device: torch.device, threads: int, peak: dict[int, float]) -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": autotune.machine()["cpu_model"],
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "rnnkit": rnnkit.__version__,
        "rnnkit_git": _git_rev(),
        "device": str(device),
        "threads": threads,
        "mkldnn": torch.backends.mkldnn.is_available(),
        "gemm_gflops": {str(n): round(g, 1) for n, g in peak.items()},
        "peak_gflops": round(max(peak.values()), 1),
    }
    measured_on = autotune.machine()  # the CPU's SIMD flags and caches, the native build
    info |= {k: measured_on[k] for k in ("cpu_flags", "caches", "torch_capability", "native_build")}
    info["autotune"] = autotune.enabled()
    info["heap"] = heap.state()  # glibc's thresholds (engine/native/heap.py): torch.nn's too
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def _pair(a: float | None, b: float | None, fmt: str) -> str:
    return f"{_num(a, fmt)}/{_num(b, fmt)}"


def table_cells(row: dict) -> list[str]:
    """One row of the results as the strings of COLUMNS."""
    mb = 1 / 2**20
    saved_t, saved_r = row.get("saved_bytes_torch"), row.get("saved_bytes_rnnkit")
    saved = "-"
    if saved_t is not None and saved_r is not None:
        saved = _pair(saved_t["total"] * mb, saved_r["total"] * mb, ".2f")
    note = row.get("error") or ""
    if row["mode"] == "packed" and row.get("padded_torch_ms"):
        note = "padded t/r " + _pair(row["padded_torch_ms"], row.get("padded_rnnkit_ms"), ".1f")
    return [
        row["cell"],
        row["layout"],
        row["config"] + (" (B=1)" if row["mode"] == "stream" else ""),
        row["mode"],
        row["backend"] + (f"→{row['engine']}" if row.get("engine") else ""),
        _num(row.get("torch_ms"), ".2f"),
        _num(row.get("rnnkit_ms"), ".2f"),
        _num(row.get("speedup"), ".2f"),
        _pair(row.get("gflops_torch"), row.get("gflops_rnnkit"), ".1f"),
        _pair(row.get("pct_peak_torch"), row.get("pct_peak_rnnkit"), ".1f"),
        _num(row.get("loop_ms"), ".2f"),
        saved,
        _num(row.get("max_abs_diff"), ".1e"),
        note,
    ]


def text_table(rows: list[dict]) -> str:
    """The rows as an aligned plain-text table."""
    body = [list(COLUMNS)] + [table_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in body) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(rows: list[dict], machine: dict, command: str) -> str:
    """A markdown report: how it was run, on what, and the results table."""
    head = [
        "# rnnkit benchmark",
        "",
        f"`{command}`",
        "",
        f"- cpu: {machine['cpu_model']} ({machine['cpu_count']} cores), threads "
        f"{machine['threads']}, device {machine['device']}",
        f"- cpu flags: {', '.join(machine.get('cpu_flags', [])) or '-'}; caches "
        + (", ".join(f"{k} {v}" for k, v in machine.get("caches", {}).items()) or "-")
        + f"; torch capability {machine.get('torch_capability', '-')}",
        f"- torch {machine['torch']}, rnnkit {machine['rnnkit']} ({machine['rnnkit_git']}), "
        f"{machine['platform']}; native build {machine.get('native_build', '-')}; measured plan "
        + ("on (the plan used: the JSON's `plan`)" if machine.get("autotune") else "off"),
        f"- sgemm peak {machine['peak_gflops']} GFLOP/s (torch.mm n x n: "
        + ", ".join(f"n={n}: {g}" for n, g in machine["gemm_gflops"].items())
        + ")",
        "- speed-up = torch ms / rnnkit ms (> 1: rnnkit faster); t/r = torch/rnnkit; "
        "loop = Python loop over torch.nn cells; GFLOP/s counts GEMMs only",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    body = ["| " + " | ".join(c.replace("|", "\\|") for c in table_cells(r)) + " |" for r in rows]
    return "\n".join(head + body) + "\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: dict) -> None:
    write_atomic(path, json.dumps(payload, indent=1, sort_keys=False) + "\n")


def write_results(name: str, command: str, options: dict, machine: dict, results: object,
                  title: str, table: list[str]) -> str:  # fmt: skip
    """benchmarks/results/{name}.json (command, options, machine, results) and {name}.md: the
    title, the command, the CPU, then ``table``'s lines; prints and returns the markdown."""
    out = Path(__file__).resolve().parent / "results"
    payload = {"command": command, "options": options, "machine": machine, "results": results}
    write_json(out / f"{name}.json", payload)
    lines = [
        f"# {title}", "", f"`{command}`", "",
        f"- cpu: {machine['cpu_model']} ({', '.join(machine['cpu_flags'])}), threads "
        f"{machine['threads']}, torch {machine['torch']}", "", *table,
    ]  # fmt: skip
    text = "\n".join(lines) + "\n"
    write_atomic(out / f"{name}.md", text)
    print(text)
    return text
