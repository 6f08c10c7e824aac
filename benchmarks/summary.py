"""Summarize a results JSON of ``benchmarks/run.py`` against the speed goals, as markdown.

    python benchmarks/summary.py benchmarks/results/full_idle.json [--out FILE.md]

Tables of speed-up (torch.nn ms / rnnkit ms, medians of the same run) per mode, with cells and
layouts as columns and configs as rows; the % of the measured sgemm peak that rnnkit reaches in
train mode; LSTM with packed input against padded input of the same size; saved activations.
Printed, and written atomically with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import write_atomic

MODES = ("train", "infer", "stream")


def _columns(rows: list[dict]) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for r in rows:
        seen[(r["cell"], r["layout"])] = None
    return list(seen)


def _configs(rows: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for r in sorted(rows, key=lambda r: r.get("config_id", 0)):
        seen[r["config"]] = None
    return list(seen)


def _table(rows: list[dict], mode: str, value, fmt: str) -> list[str]:
    """Markdown table of value(row) for ``mode``: configs x (cell, layout)."""
    cols, configs = _columns(rows), _configs(rows)
    index = {(r["config"], r["cell"], r["layout"]): r for r in rows if r["mode"] == mode}
    head = "| (B, T, I, H) | " + " | ".join(f"{c.upper()} {lay}" for c, lay in cols) + " |"
    lines = [head, "|---|" + "---:|" * len(cols)]
    for config in configs:
        cells = []
        for cell, layout in cols:
            row = index.get((config, cell, layout))
            v = value(row) if row else None
            note = "" if not row or row.get("engine") in (None, "native") else f" ({row['engine']})"
            cells.append("-" if v is None else format(v, fmt) + note)
        lines.append(f"| {config} | " + " | ".join(cells) + " |")
    return lines


def summarize(data: dict) -> str:
    rows = [r for r in data["rows"] if not r.get("error")]
    machine = data.get("machine", {})
    out = [
        f"# Summary of `{data.get('command', '?')}`",
        "",
        f"- {machine.get('cpu_model', '?')} ({machine.get('cpu_count', '?')} cores), torch "
        f"{machine.get('torch', '?')}, threads {machine.get('threads', '?')}; "
        f"sgemm peak {machine.get('peak_gflops', 0):.1f} GFLOP/s measured in the same run",
        "- speed-up = torch.nn ms / rnnkit ms (medians); `(torch)` marks where the engine handed "
        "the call to torch's own kernel",
        "",
    ]
    for mode, what in (
        ("train", "forward + backward"),
        ("infer", "no-grad forward"),
        ("stream", "T calls of one step, B = 1, state carried"),
    ):
        out += [f"## {mode}: speed-up ({what})", ""]
        out += [*_table(rows, mode, lambda r: r.get("speedup"), ".2f"), ""]
    for mode in ("train", "infer"):
        out += [f"## {mode}: % of the sgemm peak that rnnkit reaches", ""]
        out += [*_table(rows, mode, lambda r: r.get("pct_peak_rnnkit"), ".0f"), ""]
    out.pop()  # the blank line before the next heading comes with it
    out += ["", "## LSTM packed (lengths in [T/2, T]): rnnkit packed ms / rnnkit padded ms", ""]
    out += _table(
        [r for r in rows if r["cell"] == "lstm"],
        "packed",
        lambda r: (r["rnnkit_ms"] / r["padded_rnnkit_ms"]) if r.get("padded_rnnkit_ms") else None,
        ".2f",
    )
    out += ["", "## saved activations for backward, MB (torch / rnnkit)", ""]
    out += _table(rows, "train", _saved, "s")
    return "\n".join(out) + "\n"


def _saved(row: dict) -> str | None:
    t, r = row.get("saved_bytes_torch"), row.get("saved_bytes_rnnkit")
    if not t or not r:
        return None
    return f"{t['total'] / 1e6:.1f}/{r['total'] / 1e6:.1f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("results", type=Path, help="a JSON written by benchmarks/run.py")
    p.add_argument("--out", type=Path, help="also write the summary here (markdown)")
    args = p.parse_args(argv)
    try:
        data = json.loads(args.results.read_text())
    except (OSError, json.JSONDecodeError) as e:
        print(f"summary: cannot read {args.results}: {e}", file=sys.stderr)
        return 2
    if not isinstance(data, dict) or "rows" not in data:
        print(
            f"summary: {args.results} has no 'rows': not a benchmarks/run.py result",
            file=sys.stderr,
        )
        return 2
    text = summarize(data)
    print(text, end="")
    if args.out:
        write_atomic(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
