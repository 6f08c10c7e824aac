"""The measured plan: which path runs a call on this machine, timed on the call itself.

Where more than one path can run a stack call (torch's own kernel or ours, for the cells
torch.nn has; our sweeps shared by a team of threads or each on its calling thread, where a team
could form; a bidirectional no-grad stack's two directions at once or in turn), "auto" does not
trust constants measured on another CPU. On the first call of a
new shape bucket it times each candidate on that call's own data (forward, and backward where
autograd records; a warm-up, then a few interleaved runs each, as cuDNN's benchmark mode does),
keeps the faster, and runs the call on it; every later call of the bucket takes the kept path
at once. A bucket is named by its key (engine/paths.py: cell, layers, directions, projection,
bias, B and T rounded up to a power of two, I, H, dtype, training or not, threads).

The plan persists in the user's cache directory (``RNNKIT_CACHE_DIR``, else
``$XDG_CACHE_HOME/rnnkit``, else ``~/.cache/rnnkit``), one file per machine and version (CPU
model and SIMD flags, torch's version and CPU capability, rnnkit's version and native build):
the next process starts from it. Measuring changes no result beyond float32 rounding: the
candidates are tested equal, they are timed on copies of the call's tensors, and the random
number state is restored after them.

``RNNKIT_AUTOTUNE=0`` turns measuring off: fixed defaults (the constants in backends.py), for
reproducible runs. ``entries()`` shows the plan, ``reset()`` forgets it (memory and file). A
bucket measured while the machine was busier than its cores (load average) is kept for that
process only and measured again by the next: a plan is not fixed by one busy moment.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

__all__ = [
    "ENV",
    "cache_file",
    "choose",
    "enabled",
    "entries",
    "machine",
    "native_bf16",
    "pow2",
    "prevailing",
    "reset",
]

ENV = "RNNKIT_AUTOTUNE"
# the flags that decide which kernels a CPU runs (recorded; part of the plan file's name)
SIMD_FLAGS = (
    "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_vnni",
    "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "neon", "asimd", "sve",
)  # fmt: skip
MEASURE_SECONDS = 0.25  # about this long per candidate, after its warm-up
MIN_RUNS, MAX_RUNS = 3, 15
DROP = 3.0  # a candidate this many times the best's time is out of the race

_clock: Callable[[], float] = time.perf_counter  # tests replace it with a clock of their own
_table: dict[str, dict] = {}  # key -> {"path": winner, "ms": {candidate: median ms}}
_loaded = False  # whether this process has read the plan file
_measuring = False  # whether a trial is running (choose gives nested choices their default)
_machine: dict | None = None


def enabled() -> bool:
    """Whether "auto" measures (unless ``RNNKIT_AUTOTUNE=0``)."""
    return os.environ.get(ENV, "1") != "0"


def _cpu() -> tuple[str, list[str]]:
    """The CPU's model name and the SIMD flags of ``SIMD_FLAGS`` it has (Linux /proc/cpuinfo)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and value.strip():
                model = value.strip()
            elif key in ("flags", "Features"):
                flags = set(value.split())
            if flags and key == "":  # the first processor's block is enough
                break
    except OSError:
        pass
    return model, [f for f in SIMD_FLAGS if f in flags]


def native_bf16() -> bool:
    """Whether the CPU multiplies bfloat16 natively: oneDNN says it can run bfloat16 and, on
    x86 where the flags are known, the CPU has AVX512-BF16 or AMX-BF16 (oneDNN also accepts an
    AVX-512 CPU without them, where it converts: several times slower than float32)."""
    global _bf16
    if _bf16 is None:
        flags = _cpu()[1]
        x86 = platform.machine().lower() in ("x86_64", "amd64")
        native = "avx512_bf16" in flags or "amx_bf16" in flags
        _bf16 = torch.ops.mkldnn._is_mkldnn_bf16_supported() and (native or not (x86 and flags))
    return _bf16


_bf16: bool | None = None


def _caches() -> dict[str, str]:
    """Cache sizes of CPU 0 by level, as Linux reports them (e.g. {"L2": "2048K"})."""
    sizes = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind != "Instruction":
            sizes[f"L{level}{'d' if kind == 'Data' else ''}"] = size
    return sizes


def machine() -> dict:
    """What the plan is measured on: CPU model, SIMD flags, caches, torch's version and CPU
    capability, rnnkit's version and native build (benchmarks record it too)."""
    global _machine
    if _machine is None:
        from .. import __version__
        from .native.build import native_build_name

        model, flags = _cpu()
        _machine = {
            "cpu_model": model,
            "cpu_flags": flags,
            "caches": _caches(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "torch_capability": torch.backends.cpu.get_cpu_capability(),
            "rnnkit": __version__,
            "native_build": native_build_name(),
        }
    return _machine


def _cache_dir() -> Path:
    if os.environ.get("RNNKIT_CACHE_DIR"):
        return Path(os.environ["RNNKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnkit"


def cache_file() -> Path:
    """The file this machine's plan persists in (named by a digest of ``machine()`` but its
    cache sizes and CPU count, which the model name implies)."""
    ident = {k: v for k, v in machine().items() if k not in ("caches", "cpu_count")}
    digest = hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    return _cache_dir() / f"plan-{digest}.json"


def _read() -> dict[str, dict]:
    """The entries of the plan file; {} where there is none or it is unreadable or another
    machine's (it is then rewritten on the next measurement)."""
    try:
        data = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("machine", {}).get("native_build") is None:
        return {}
    found = data.get("entries")
    if not isinstance(found, dict):
        return {}
    return {
        k: v
        for k, v in found.items()
        if isinstance(v, dict) and isinstance(v.get("path"), str) and isinstance(v.get("ms"), dict)
    }


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        _table.update({k: v for k, v in _read().items() if k not in _table})


def _save() -> None:
    """Merge this process's entries into the plan file, atomically (another process may be
    writing its own: the file is read again just before, so neither loses the other's)."""
    from ..atomic import write_json_atomic

    merged = _read() | {k: v for k, v in _table.items() if not v.get("busy")}
    try:
        write_json_atomic(cache_file(), {"machine": machine(), "entries": merged})
    except OSError as exc:  # a read-only home: measure again next time, say so once
        warnings.warn(f"rnnkit: could not save the measured plan ({exc})", stacklevel=3)


def _measure(trials: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Milliseconds of each trial: one warm-up each (packed weights, kernels' primitives, a
    build's first load), then rounds of one run of each in turn, about ``MEASURE_SECONDS`` per
    candidate; each keeps its fastest run (the least disturbed by other work on the machine).
    A candidate more than ``DROP`` times the best after a round runs no more rounds."""
    global _measuring
    _measuring = True
    try:
        with torch.random.fork_rng(devices=[]):  # the trials draw nothing the real call sees
            return _race(trials)
    finally:
        _measuring = False


def _race(trials: dict[str, Callable[[], object]]) -> dict[str, float]:
    """_measure's rounds (see there)."""
    warm = {name: _timed(trial) for name, trial in trials.items()}
    runs = min(MAX_RUNS, max(MIN_RUNS, int(MEASURE_SECONDS / max(*warm.values(), 1e-9))))
    best = dict.fromkeys(trials, float("inf"))
    racing = list(trials)
    for _ in range(runs):
        for name in racing:
            best[name] = min(best[name], _timed(trials[name]))
        racing = [n for n in racing if best[n] <= DROP * min(best.values())]
    return {name: 1e3 * t for name, t in best.items()}


def _timed(trial: Callable[[], object]) -> float:
    start = _clock()
    trial()
    return _clock() - start


def choose(key: str, trials: dict[str, Callable[[], object]], default: str) -> str:
    """The candidate that runs the calls of bucket ``key``: ``default`` with measuring off, the
    plan's choice where it has one for this key, else the fastest of ``trials`` (each a
    complete run on copies of the call's data), measured now and kept (memory and file). A
    choice asked for inside another's trial (a sub-plan of the path being timed) gets its
    default, unmeasured and unkept: the real call measures it."""
    if not enabled():
        return default
    _load()
    entry = _table.get(key)
    if entry is not None and entry["path"] in trials:
        return entry["path"]
    if _measuring:
        return default
    busy = _busy()
    ms = _measure(trials)
    winner = min(ms, key=ms.__getitem__)
    _table[key] = {"path": winner, "ms": {k: round(v, 4) for k, v in ms.items()}}
    if busy:  # other work had the cores: keep it for this process only, measure again later
        _table[key]["busy"] = True
    else:
        _save()
    return winner


def pow2(n: int) -> int:
    """n rounded up to a power of 2 (1 for n <= 1): how a bucket's key rounds batch, length
    and rows."""
    return 1 << max(n - 1, 0).bit_length()


def prevailing(key: str, default: str) -> str:
    """The path that won the most of the plan's buckets whose key, with its B and T fields
    left out, is ``key`` (a bucket of every batch and length: torch.compile's choice, which
    holds for a graph of any B and T); ``default`` where none is kept, on a tie, or with
    measuring off. Reads the plan, measures nothing."""
    if not enabled():
        return default
    _load()
    wins: dict[str, int] = {}
    for k, v in _table.items():
        if _SIZES.sub("", k) == key:
            wins[v["path"]] = wins.get(v["path"], 0) + 1
    if not wins or wins.get(default, 0) == max(wins.values()):
        return default
    return max(wins, key=wins.__getitem__)


_SIZES = re.compile(r"\|[BT]\d+(?=\|)")  # a key's batch and length fields


def _busy() -> bool:
    """Whether the machine is busier than its cores (1-minute load average; False where the
    system does not say): timings taken then are kept for this process only."""
    try:
        return os.getloadavg()[0] > (os.cpu_count() or 1)
    except (AttributeError, OSError):
        return False


def entries() -> dict[str, dict]:
    """The plan this process runs by: bucket key -> {"path", "ms" per candidate} (measured in
    this process or read from the plan file)."""
    _load()
    return {k: dict(v) for k, v in sorted(_table.items())}


def reset() -> None:
    """Forget the plan: in this process and in the plan file (measured again when needed)."""
    global _loaded
    _table.clear()
    _loaded = True
    cache_file().unlink(missing_ok=True)
