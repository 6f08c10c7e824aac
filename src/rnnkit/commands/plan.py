"""``rnnkit plan``: show or forget the engine's plan measured on this machine.

    rnnkit plan            # the machine, the plan file, and each measured bucket's choice
    rnnkit plan --json     # the same as JSON
    rnnkit plan --reset    # forget it: buckets are measured again on their next call

On the first call of a new shape bucket, the engine's "auto" backend times torch's kernel and
its own on that call and keeps the faster (``rnnkit.engine.autotune``); RNNKIT_AUTOTUNE=0 turns
measuring off.
"""

from __future__ import annotations

import argparse
import json

from ..engine import autotune, native_heap
from .flags import HelpFormatter

__all__ = ["add_parser"]


def add_parser(subparsers) -> None:
    """Add ``plan`` to ``subparsers``."""
    about = "show or forget the engine's speed plan measured on this machine"
    p = subparsers.add_parser("plan", help=about, description=about, formatter_class=HelpFormatter)
    p.add_argument("--reset", action="store_true", help="forget the plan (memory and file)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.reset:
        autotune.reset()
        print(f"forgot the plan ({autotune.cache_file()})")
        return 0
    entries, info = autotune.entries(), autotune.machine()
    if args.json:
        where = str(autotune.cache_file())
        plan = {"machine": info, "file": where, "measuring": autotune.enabled(),
                "heap": native_heap.planned(), "entries": entries}  # fmt: skip
        print(json.dumps(plan, indent=2))
        return 0
    flags = ", ".join(info["cpu_flags"]) or "none known"
    print(f"machine: {info['cpu_model']} ({flags}); torch {info['torch']}, {info['native_build']}")
    state = "on" if autotune.enabled() else f"off ({autotune.ENV}=0: fixed defaults)"
    print(f"plan file: {autotune.cache_file()}; measuring {state}")
    print(f"glibc heap thresholds: {native_heap.planned()} (RNNKIT_HEAP=default leaves them)")
    if not entries:
        print("no bucket measured yet")
    for key, entry in entries.items():
        times = "  ".join(f"{name} {ms:.3g} ms" for name, ms in entry["ms"].items())
        print(f"{key:<72} -> {entry['path']:<7} ({times})")
    return 0
