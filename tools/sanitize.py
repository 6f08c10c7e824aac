"""Run tests against a sanitizer build of the native extension and report what it found in
rnnkit's own C++.

    python tools/sanitize.py thread  [pytest args]   # default: tests/engine/test_native_team.py
    python tools/sanitize.py address [pytest args]   # default: tests/engine -k native

``RNNKIT_NATIVE_SANITIZE=thread|address`` builds a separate variant of the extension (its own
folder in torch's extensions cache; a few minutes the first time); Python itself is not
instrumented, so the sanitizer's runtime is preloaded (``LD_PRELOAD``). The ThreadSanitizer
variant runs each team on std::threads instead of libgomp's pool (libgomp is not instrumented:
TSan could not see an OpenMP fork or join), so the teams' partition of the work and their
barrier are what it checks. Reports go to a log folder; a report counts against rnnkit where
the access it reports runs a frame of the rnnkit extension (torch's own OpenMP regions draw
reports of TensorIterator's stack copies, which are not ours, also where the memory was an
rnnkit team's earlier: see _racing_access_is_ours). Exit status: 1 if pytest failed or any
report counts against rnnkit, else 0.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_TESTS = {
    "thread": ["tests/engine/test_native_team.py"],
    "address": ["tests/engine", "-k", "native"],
}
OPTIONS = {  # TSan's exit code stays pytest's: its reports are counted here
    "thread": ("TSAN_OPTIONS", "halt_on_error=0 report_signal_unsafe=0 exitcode=0"),
    "address": ("ASAN_OPTIONS", "detect_leaks=0 halt_on_error=0"),  # CPython keeps its arenas
}
REPORT = re.compile(r"^(?:WARNING: ThreadSanitizer|ERROR: AddressSanitizer)", re.M)


def runtime(kind: str) -> str:
    """What to preload: the sanitizer runtime the C++ compiler links (libtsan.so /
    libasan.so); for ASan libstdc++ too, which Python does not link: loaded later, its
    __cxa_throw escaped ASan's interceptor, which then failed a CHECK at torch's first throw."""
    libs = {"thread": ["libtsan.so"], "address": ["libasan.so", "libstdc++.so"]}[kind]
    paths = [subprocess.run(["c++", f"-print-file-name={lib}"], capture_output=True,
                            text=True).stdout.strip() for lib in libs]  # fmt: skip
    return " ".join(paths)


def reports(folder: Path) -> tuple[list[str], list[str]]:
    """(reports with an rnnkit frame, the others) of every log in ``folder``."""
    ours, theirs = [], []
    for log in sorted(folder.iterdir()):
        text = log.read_text(errors="replace")
        starts = [m.start() for m in REPORT.finditer(text)] + [len(text)]
        for a, b in itertools.pairwise(starts):
            report = text[a:b]
            (ours if _racing_access_is_ours(report) else theirs).append(report)
    return ours, theirs


def _racing_access_is_ours(report: str) -> bool:
    """Whether the access a report is about runs rnnkit's code (for TSan: the first access,
    before "Previous ..."). A TSan report whose racing access is torch's, on one of libgomp's
    threads, with only the earlier access in rnnkit's team, is stack or heap reuse after the
    team was joined: TSan saw the join, but not libgomp's hand-over to its worker (libgomp is
    not instrumented), so any later access there looks unordered (seen: a SpinBarrier on the
    main thread's stack, later torch's TensorIterator copying its sizes there)."""
    current = report.split("\n  Previous ", 1)[0]
    return "rnnkit_native" in current


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in OPTIONS:
        print("usage: python tools/sanitize.py thread|address [pytest args]", file=sys.stderr)
        return 2
    kind, tests = argv[0], argv[1:] or DEFAULT_TESTS[argv[0]]
    logs = Path(tempfile.mkdtemp(prefix=f"rnnkit-{kind}-sanitizer-"))
    name, options = OPTIONS[kind]
    env = dict(os.environ, RNNKIT_NATIVE_SANITIZE=kind, LD_PRELOAD=runtime(kind))
    env[name] = f"{options} log_path={logs / 'log'}"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
    failed = subprocess.run(command, env=env).returncode != 0
    ours, theirs = reports(logs)
    for report in ours:
        print(report)
    outcome = "failed" if failed else "passed"
    print(f"{kind} sanitizer: {len(ours)} report(s) in rnnkit's extension, {len(theirs)} "
          f"elsewhere (torch, libgomp); logs in {logs}; pytest {outcome}")  # fmt: skip
    return 1 if failed or ours else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
