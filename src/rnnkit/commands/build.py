"""``rnnkit build``: compile the native loops now, not at their first use.

    rnnkit build           # this CPU's build (AVX-512, AVX2 or portable); says where it is
    rnnkit build --all     # also every lower capability this CPU can run (an image or a
                           # shared cache used from several CPU kinds)
    rnnkit build --runtime # the operators' C++ library for AOTInductor packages run
                           # without Python (docs/deploy.md); prints its path only
    rnnkit build --runtime --cell mycells:CIFG   # with a cell of your own compiled in

The engine compiles its C++ loops on first use (about a minute) into torch's extensions cache,
one build per source version, compiler flags, CPU capability and torch, reused by every copy
of rnnkit with the same sources. Run this where a first call must not wait: after
``pip install``, or in a container image. (Not at install time itself: pip would build
against a torch of its own choosing in an isolated environment.)
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time

from ..engine import native_build as build
from ..engine import runtime_library
from ..errors import RnnkitError
from .flags import HelpFormatter

__all__ = ["add_parser"]


def add_parser(subparsers) -> None:
    """Add ``build`` to ``subparsers``."""
    about = "compile the native RNN loops now (else at first use), for this CPU or all it can run"
    p = subparsers.add_parser("build", help=about, description=about, formatter_class=HelpFormatter)
    also = "also each lower capability this CPU runs (AVX2, DEFAULT)"
    p.add_argument("--all", action="store_true", help=also)
    runtime = ("build only the library that runs AOTInductor packages of rnnkit models without "
               "Python (this CPU's capability) and print its path")  # fmt: skip
    p.add_argument("--runtime", action="store_true", help=runtime)
    own = (
        "with --runtime: a cell of your own the packages hold (repeat for more), as "
        "MODULE:NAME, the module importable from here and NAME its rnnkit.define_cell cell"
    )
    p.add_argument("--cell", action="append", default=[], metavar="MODULE:NAME", help=own)
    p.set_defaults(func=_run)


def _own_cell(spec: str) -> object:
    """The cell ``MODULE:NAME`` names (the module imported with the working directory on the
    path); ``RnnkitError`` saying what was expected and what came."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise RnnkitError(f"--cell expects MODULE:NAME (e.g. mycells:CIFG); got {spec!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module: any failure, in one line
        raise RnnkitError(f"--cell {spec}: importing {module_name} failed: {exc}") from exc
    if not hasattr(module, attr):
        raise RnnkitError(f"--cell {spec}: {module_name} has no {attr}")
    return getattr(module, attr)


def _run(args: argparse.Namespace) -> int:
    if args.cell and not args.runtime:
        raise RnnkitError("--cell goes with --runtime (the library of AOTInductor packages)")
    if args.runtime:
        cells = [_own_cell(spec) for spec in args.cell]
        try:
            print(runtime_library(cells))
        except TypeError as exc:  # not a cell
            raise RnnkitError(f"rnnkit build --runtime --cell: {exc}") from exc
        except NotImplementedError as exc:
            first = (str(exc).splitlines() or ["failed"])[0]  # a compiler's log: its first line
            raise RnnkitError(f"rnnkit build --runtime: {first}") from exc
        return 0
    mine = build.capability()
    caps = build.CAPABILITIES[: build.CAPABILITIES.index(mine) + 1] if args.all else (mine,)
    for cap in reversed(caps):
        started = time.perf_counter()
        env = {**os.environ, "RNNKIT_CPU_CAPABILITY": cap}
        done = subprocess.run(  # a process each: a process loads one build
            [sys.executable, "-c", _BUILD], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            why = (done.stdout + done.stderr).strip().splitlines() or ["no output"]
            raise RnnkitError(f"rnnkit build: the {cap} build failed: {why[-1]}")
        took = time.perf_counter() - started
        print(f"{cap}: {done.stdout.strip()} ({took:.1f} s)")
    return 0


# prints the library of the build this process's capability asks for, building it if needed
_BUILD = """
from rnnkit.engine.native import build
try:
    build.load()
except NotImplementedError as exc:
    raise SystemExit(str(exc))
print(build._finished())
"""
