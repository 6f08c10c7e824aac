"""engine/native/heap.py: glibc's thresholds pinned when the extension loads, the user's kept."""

import os
import platform
import subprocess
import sys

import pytest

from rnnkit.engine.native import heap
from rnnkit.engine.native.build import compiler_available

NATIVE = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# page faults per training step of a small GRU once warm (the pattern that faulted 518 times a
# step under glibc's defaults on Zen 4), and what heap.pin() did
_STEPS = """
import resource, statistics, torch, rnnkit
from rnnkit.engine.native import heap
torch.manual_seed(0)
torch.set_num_threads(1)
model = rnnkit.GRU(32, 64)
x = torch.randn(100, 16, 32, requires_grad=True)
faults = []
for i in range(15):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    y, _ = model(x)
    y.square().mean().backward()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(statistics.median(faults[5:]), heap.state(), sep="|")
"""


def _run(env: dict[str, str]) -> tuple[float, str]:
    """(median page faults a step, heap.state()) in a fresh process with ``env`` and none of
    the malloc settings of this one."""
    ours = ("RNNKIT_HEAP", "GLIBC_TUNABLES", *heap._GLIBC_ENV)
    clean = {k: v for k, v in os.environ.items() if k not in ours}
    done = subprocess.run([sys.executable, "-c", _STEPS], capture_output=True, text=True,
                          env={**clean, **env}, timeout=600, check=True)  # fmt: skip
    faults, state = done.stdout.strip().splitlines()[-1].split("|")
    return float(faults), state


@NATIVE
@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_pinned_steps_take_no_page_faults():
    faults, state = _run({})
    assert state.startswith("pinned: mmap 32 MiB, trim 64 MiB")
    assert faults <= 8, f"{faults} page faults a step with the thresholds pinned"


@NATIVE
@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_the_users_settings_stand():
    assert _run({"RNNKIT_HEAP": "default"})[1] == "left to glibc (RNNKIT_HEAP=default)"
    state = _run({"MALLOC_ARENA_MAX": "2"})[1]
    assert state == "left to the user's MALLOC_ARENA_MAX"


def test_reasons_not_to_pin(monkeypatch):
    for name in ("RNNKIT_HEAP", "GLIBC_TUNABLES", *heap._GLIBC_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    assert heap._reason_not_to() == "not glibc"
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setattr(platform, "libc_ver", lambda: ("glibc", "2.36"))
    assert heap._reason_not_to() is None
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1")
    monkeypatch.setenv("MALLOC_TOP_PAD_", "0")
    assert heap._reason_not_to() == "left to the user's MALLOC_TOP_PAD_, GLIBC_TUNABLES"
