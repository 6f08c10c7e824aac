"""Shared test helpers: build torch.nn twins with copied weights, run both, compare."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import torch
from torch import Tensor

import rnnkit

# float64: absolute 1e-10; float32: 1e-5 relative to the largest magnitude of the expected value.
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def max_rel_err(actual: Tensor, expected: Tensor) -> float:
    """max |a - e| / max |e| (absolute error in float64, where values are O(1))."""
    err = (actual.detach() - expected.detach()).abs().max().item()
    if expected.dtype == torch.float64:
        return err
    return err / max(expected.detach().abs().max().item(), 1e-12)


def assert_close(actual: Tensor, expected: Tensor, what: str = "") -> None:
    """Equal within TOL of the dtype; shapes and dtypes must match exactly."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} vs {expected.dtype}"
    err = max_rel_err(actual, expected)
    assert err <= TOL[expected.dtype], f"{what}: error {err:.3g} > {TOL[expected.dtype]:.0e}"


def copy_weights(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    """dst's parameters := src's, by name (strict: same names and shapes)."""
    dst.load_state_dict(src.state_dict(), strict=True)


def weighted_sum(tensors: list[Tensor], seed: int = 0) -> Tensor:
    """sum_k <R_k, t_k> with fixed random R_k: a loss whose gradients are all non-trivial."""
    g = torch.Generator().manual_seed(seed)
    total = 0
    for t in tensors:
        r = torch.randn(t.shape, generator=g, dtype=torch.float64).to(t.dtype)
        total = total + (t * r).sum()
    return total


def cifg_step(gx, gh, h_prev, extra_prev, params):
    """A cell of the user's own for the tests: the coupled input-forget LSTM (f = 1 - i), gx
    (B, 3H) holding the summed pre-activations (split_hidden=False); c is its extra state."""
    (c_prev,) = extra_prev
    pre_i, pre_g, pre_o = gx.chunk(3, dim=1)
    i, g, o = torch.sigmoid(pre_i), torch.tanh(pre_g), torch.sigmoid(pre_o)
    c = (1 - i) * c_prev + i * g
    return o * torch.tanh(c), (c,), ()


def gained_gru_step(gx, gh, h_prev, extra_prev, params):
    """A GRU with gh apart (split_hidden=True), a gain on its candidate and an optional bias
    parameter (``params`` = (gain, shift), shift None where the layer has no bias)."""
    gain, shift = params
    H = h_prev.shape[1]
    r = torch.sigmoid(gx[:, :H] + gh[:, :H])
    z = torch.sigmoid(gx[:, H : 2 * H] + gh[:, H : 2 * H])
    pre_n = gx[:, 2 * H :] + r * gh[:, 2 * H :] * gain
    n = torch.tanh(pre_n if shift is None else pre_n + shift)
    return torch.lerp(n, h_prev, z), (), ()


def gained_gru_params() -> tuple:
    """The cell parameters of gained_gru_step: a gain, and a shift that is a bias (absent
    where the layer has bias=False)."""
    return (rnnkit.ParamSpec("gain", 1, "uniform"),
            rnnkit.ParamSpec("shift", 1, "uniform", is_bias=True))  # fmt: skip


# A Python process that cannot import rnnkit runs an AOTInductor package with the runtime
# library: python -c NO_RNNKIT_RUNNER LIBRARY PACKAGE CALLS.pt OUTPUTS.pt
NO_RNNKIT_RUNNER = """
import sys, torch
sys.modules["rnnkit"] = None  # any import of rnnkit fails: no Python kernel can run
torch.ops.load_library(sys.argv[1])
runner = torch._inductor.aoti_load_package(sys.argv[2])
with torch.no_grad():
    torch.save([runner(*args) for args in torch.load(sys.argv[3])], sys.argv[4])
"""


def elman_step(gx, gh, h_prev, extra_prev, params):
    """No extra state, no parameters."""
    return torch.tanh(gx), (), ()


def cli_fails(capsys, argv: list[str], match: str) -> str:
    """``rnnkit argv`` returns 2 and prints exactly one line, ``rnnkit: error: ...`` containing
    ``match``, with no traceback; returns that line (output before the call is discarded)."""
    from rnnkit.cli import main

    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnkit: error:"), err
    assert match in lines[0] and "Traceback" not in err, lines[0]
    return lines[0]


def runtime_cells() -> tuple:
    """The cells of one's own the runtime library tests compile in (one library for all of
    them: a build takes a minute); ``rnnkit build --runtime --cell helpers:RUNTIME_CIFG`` names
    them too."""
    return RUNTIME_CIFG, RUNTIME_GAINED


RUNTIME_CIFG = rnnkit.define_cell("runtime_cifg", 3, cifg_step, extra_states=1)
RUNTIME_GAINED = rnnkit.define_cell("runtime_gained_gru", 3, gained_gru_step, split_hidden=True,
                                    params=gained_gru_params())  # fmt: skip


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py as a module (a script, not part of the installed package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"rnnkit_benchmarks_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module
