"""glibc's heap thresholds pinned where its own rules take them, so a training step stops faulting.

A step of the native engine allocates and frees a few tensors of 0.1-30 MB (the gates, the
saved rows, dL/dgx). Under glibc's defaults a chunk above the mmap threshold (128 KiB at first)
gets fresh pages from the kernel; freeing one raises that threshold to its size and the trim
threshold to twice that, and whenever the free memory at the top of the heap exceeds the trim
threshold it is handed back to the kernel. So each step's outputs land on pages the kernel
must fault in and zero again: measured on an AMD EPYC (Zen 4, 1 thread, embedding + GRU +
linear, forward and backward), 518 page faults a step at B16 T100 H64 (5.9 ms a step against
4.7 ms without them) and 5168 at B32 T100 H256 (69 ms against 57 ms); torch.nn's GRU in the
same process took none.

``pin()`` (called once when the extension loads) sets the two thresholds to the values glibc's
dynamic rule reaches by itself once a 32 MiB tensor has been freed (its ceiling): mmap 32 MiB,
trim 64 MiB. Larger tensors are still mapped and unmapped at once, and at most 64 MiB of free
heap stays with the process. It changes nothing where:

- ``RNNKIT_HEAP=default`` is set (glibc's own behaviour, e.g. to compare);
- the user set any glibc malloc setting (``MALLOC_*_`` or ``GLIBC_TUNABLES`` with malloc):
  theirs stand;
- the C library is not glibc (musl, macOS, Windows), or another allocator replaced malloc
  (jemalloc, tcmalloc: their own ``mallopt`` is a no-op or absent).
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "pin", "planned", "state"]

MMAP_THRESHOLD = 32 << 20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # what its dynamic rule sets beside it
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # <malloc.h>
_GLIBC_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
              "MALLOC_MMAP_MAX_", "MALLOC_ARENA_MAX")  # fmt: skip

_SETTINGS = f"mmap {MMAP_THRESHOLD >> 20} MiB, trim {TRIM_THRESHOLD >> 20} MiB"
_state: str | None = None


def _reason_not_to() -> str | None:
    """Why the thresholds stay as they are here, or None."""
    if os.environ.get("RNNKIT_HEAP", "") == "default":
        return "left to glibc (RNNKIT_HEAP=default)"
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "not glibc"
    user = [name for name in _GLIBC_ENV if name in os.environ]
    if "malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        user.append("GLIBC_TUNABLES")
    if user:
        return f"left to the user's {', '.join(user)}"
    return None


def pin() -> str:
    """Pin the thresholds once per process (see the module docstring); returns ``state()``."""
    global _state
    if _state is None:
        _state = _reason_not_to()
        if _state is None:
            libc = ctypes.CDLL(None)  # the process's malloc, whoever provides it
            mallopt = getattr(libc, "mallopt", None)
            done = mallopt is not None and all(
                mallopt(option, value) == 1
                for option, value in ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                                      (_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
            )  # fmt: skip
            _state = f"pinned: {_SETTINGS}" if done else "mallopt refused"
    return _state


def state() -> str:
    """What ``pin()`` did in this process ('not pinned yet' before the extension loaded)."""
    return _state or "not pinned yet"


def planned() -> str:
    """What ``pin()`` did, or before the extension loads what it will do (``rnnkit plan``)."""
    if _state is not None:
        return _state
    return _reason_not_to() or f"pinned when the native extension loads: {_SETTINGS}"
