"""Input checks shared by layers and cells: each says what was expected and what came."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "STATE_NAMES",
    "as_lengths",
    "check_dtype_device",
    "check_shape",
    "check_states",
    "fmt_shape",
    "unpack_hx",
]


def fmt_shape(shape: Sequence[int]) -> str:
    """``(7, 5, 30)``, also for 1-tuples: ``(5,)``."""
    return str(tuple(shape))


def check_dtype_device(owner: str, what: str, t: Tensor, weight: Tensor) -> None:
    """``t`` must be floating point, of the weights' dtype and on the weights' device."""
    if not t.is_floating_point():
        raise TypeError(f"{owner} expected a floating-point {what}, got dtype {t.dtype}")
    if t.dtype != weight.dtype:
        raise TypeError(
            f"{owner} expected {what} of dtype {weight.dtype} (the dtype of its weights), "
            f"got {t.dtype}; convert one with .to(dtype)"
        )
    if t.device != weight.device:
        raise ValueError(
            f"{owner} expected {what} on device {weight.device} (the device of its weights), "
            f"got {t.device}"
        )


def check_shape(owner: str, what: str, t: Tensor, expected: tuple[int, ...], note: str) -> None:
    """``t.shape`` must equal ``expected``; ``note`` names the dimensions, e.g. '(L*D, B, H)'."""
    if tuple(t.shape) == expected:
        return
    detail = ""
    if t.dim() == len(expected) and t.dim() >= 2:
        bdim = 1 if t.dim() == 3 else 0
        if t.shape[bdim] != expected[bdim]:
            detail = (
                f" (its batch size {t.shape[bdim]} does not match the input's {expected[bdim]})"
            )
    raise ValueError(
        f"{owner} expected {what} of shape {note} = {fmt_shape(expected)}, "
        f"got {fmt_shape(t.shape)}{detail}"
    )


def unpack_hx(owner: str, hx: object, n_states: int) -> tuple[Tensor, ...] | None:
    """``hx`` as a tuple of ``n_states`` tensors: ``h_0`` alone, or ``(h_0, c_0)`` for LSTMs."""
    if hx is None:
        return None
    if n_states == 1:
        if not isinstance(hx, Tensor):
            raise TypeError(f"{owner} expects hx = h_0, a tensor; got {type(hx).__name__}")
        return (hx,)
    names = ", ".join(f"{s}_0" for s in ("h", "c", "n", "m")[:n_states])
    if isinstance(hx, Tensor) or not isinstance(hx, (tuple, list)):
        raise TypeError(
            f"{owner} expects hx = ({names}), a tuple of {n_states} tensors; "
            f"got {type(hx).__name__}"
        )
    if len(hx) != n_states or not all(isinstance(s, Tensor) for s in hx):
        kinds = ", ".join(type(s).__name__ for s in hx)
        raise TypeError(
            f"{owner} expects hx = ({names}), a tuple of {n_states} tensors; got ({kinds})"
        )
    return tuple(hx)


def as_lengths(lengths: object, B: int, T: int) -> Tensor:
    """Validated 1-D int64 CPU tensor of B sequence lengths, each in [1, T]. While torch.compile
    or torch.export traces, the values are not read (that would be a data-dependent branch: a
    graph break), only the dtype and shape are checked."""
    if not isinstance(lengths, Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"expected lengths as a 1-D integer tensor of {B} elements, got {lengths!r}"
            ) from err
    if lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
        raise TypeError(f"expected integer lengths, got dtype {lengths.dtype}")
    if lengths.dim() != 1 or lengths.numel() != B:
        raise ValueError(
            f"expected lengths of shape (B,) = ({B},), one per sequence, "
            f"got {fmt_shape(lengths.shape)}"
        )
    lengths = lengths.detach().to("cpu", torch.int64)
    if torch.compiler.is_compiling():
        return lengths
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo < 1 or hi > T:
        raise ValueError(f"expected lengths in [1, T] = [1, {T}], got values from {lo} to {hi}")
    return lengths


STATE_NAMES = ("h_0", "c_0", "n_0", "m_0")


def check_states(
    owner: str,
    hx: object,
    widths: tuple[int, ...],
    LD: int,
    B: int,
    unbatched: bool,
    weight: Tensor,
) -> tuple[Tensor, ...] | None:
    """The initial states ``hx`` checked against the stack: one (L*D, B, width) tensor per
    entry of ``widths`` (unbatched: (L*D, width), returned with a batch dim of 1), in the
    user's batch order; None where ``hx`` is None (zeros)."""
    if hx is None:
        return None
    states = unpack_hx(owner, hx, len(widths))
    if states is None:
        return None
    checked = []
    for name, s, width in zip(STATE_NAMES, states, widths):
        check_dtype_device(owner, name, s, weight)
        if unbatched:
            check_shape(owner, name, s, (LD, width), "(num_layers * num_directions, H)")
            s = s.unsqueeze(1)
        else:
            check_shape(owner, name, s, (LD, B, width), "(num_layers * num_directions, B, H)")
        checked.append(s)
    return tuple(checked)
