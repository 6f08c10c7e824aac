"""Every SIMD build of the native loops (AVX512, AVX2, DEFAULT: each up to this CPU's) against
the reference loop, each in a process of its own (RNNKIT_CPU_CAPABILITY picks the build)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from rnnkit.engine.native.build import CAPABILITIES, capability

DETECTED = torch.backends.cpu.get_cpu_capability()
BUILDS = CAPABILITIES[: CAPABILITIES.index(DETECTED) + 1] if DETECTED in CAPABILITIES else ()

# every built-in cell the native engine runs, float32 (H = 37: partial vectors of 16, 8 or 4
# lanes) and float64, two layers, bidirectional, lengths; forward, backward and no-grad stack
CHECK = """
import torch, rnnkit
from rnnkit.engine.native.build import capability
from rnnkit.layers.registry import make_layer
assert capability() == {cap!r}, capability()
for name in ("rnn", "rnn_relu", "lstm", "gru", "layernorm_lstm", "layernorm_gru",
             "peephole_lstm", "indrnn"):
    for dtype, tol in ((torch.float32, 1e-5), (torch.float64, 1e-10)):
        torch.manual_seed(0)
        layer = make_layer(name, 5, 37, num_layers=2, bidirectional=True, dtype=dtype)
        x = torch.randn(9, 13, 5, dtype=dtype, requires_grad=True)
        lengths = torch.randint(1, 10, (13,))
        outs = {{}}
        for backend in ("native", "reference"):
            with rnnkit.use_backend(backend):
                y, _ = layer(x, lengths=lengths)
                (dx,) = torch.autograd.grad(y.pow(2).sum(), x)
                with torch.no_grad():
                    y_plain, _ = layer(x)
            outs[backend] = (y.detach(), dx, y_plain)
        for a, b in zip(outs["native"], outs["reference"]):
            torch.testing.assert_close(a, b, rtol=tol, atol=tol)
print("ok")
"""


@pytest.mark.parametrize("cap", BUILDS)
def test_every_simd_build_equals_the_reference_loop(cap):
    env = {**os.environ, "RNNKIT_CPU_CAPABILITY": cap, "OMP_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", CHECK.format(cap=cap)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-3000:]


def test_a_capability_above_the_cpus_or_unknown_is_refused(monkeypatch):
    monkeypatch.setenv("RNNKIT_CPU_CAPABILITY", "AVX1024")
    with pytest.raises(ValueError, match="must be one of DEFAULT, AVX2, AVX512"):
        capability()
    if DETECTED != "AVX512":
        monkeypatch.setenv("RNNKIT_CPU_CAPABILITY", "AVX512")
        with pytest.raises(ValueError, match="above this CPU's capability"):
            capability()
