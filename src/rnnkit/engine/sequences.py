"""Turning what a user passes (padded, batch_first, unbatched, lengths, PackedSequence) into the
engine's packed layout, and the engine's output back into what torch.nn would return.

``check_input`` validates once (before any work) and ``prepare_sequences`` lays the checked
input out; lengths, sorting and unsorting live here, once; the scan sees only packed rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from .checks import as_lengths, check_dtype_device, fmt_shape
from .layout import TimeLayout, time_layout

__all__ = ["CheckedInput", "SeqBatch", "check_input", "prepare_sequences"]


@dataclass
class SeqBatch:
    """A batch of sequences in packed layout, with what is needed to return torch's shapes."""

    data: Tensor  # (N, I) rows of all steps, time-major, batch sorted longest first
    layout: TimeLayout
    B: int
    T: int
    sorted_indices: Tensor | None  # sorted position -> original batch index (None: identity)
    unsorted_indices: Tensor | None  # original batch index -> sorted position
    batch_first: bool
    unbatched: bool = False
    packed_batch_sizes: Tensor | None = None  # the PackedSequence's own batch_sizes, to hand back
    padded_rows: Tensor | None = None  # padded input with lengths: each packed row's row t·B + b
    # of the (T·B, .) padded tensor, b in the user's order (to pad the output back)
    pad_to: int = 0  # equal lengths L < T: the scan ran L steps; the output gets zeros up to T

    def sort_state(self, state: Tensor) -> Tensor:
        """Batch dim 1 of a (L*D, B, .) state from the user's order into sorted order."""
        return state if self.sorted_indices is None else state.index_select(1, self.sorted_indices)

    def unsort_state(self, state: Tensor) -> Tensor:
        """Batch dim 1 of a (L*D, B, .) state from sorted order back to the user's order."""
        if self.unsorted_indices is None:
            return state
        return state.index_select(1, self.unsorted_indices)

    def output(self, y: Tensor) -> Tensor | PackedSequence:
        """The engine's (N, F) rows as torch.nn returns them for this kind of input."""
        if self.packed_batch_sizes is not None:
            return PackedSequence(
                y, self.packed_batch_sizes, self.sorted_indices, self.unsorted_indices
            )
        if self.padded_rows is not None:  # rows back to their (t, b) places, zeros elsewhere
            width = y.shape[1]
            out = y.new_zeros(self.T * self.B, width).index_copy(0, self.padded_rows, y)
            out = out.view(self.T, self.B, width)
            return out.transpose(0, 1) if self.batch_first else out
        out = y.view(self.T, self.B, y.shape[1])
        if self.pad_to > self.T:  # steps past the (equal) lengths: zeros, as torch.nn returns
            out = F.pad(out, (0, 0, 0, 0, 0, self.pad_to - self.T))
        if self.unbatched:
            return out.squeeze(1)
        return out.transpose(0, 1) if self.batch_first else out


def _packed_rows(layout: TimeLayout, sorted_indices: Tensor) -> Tensor:
    """(N,) for each packed row (step t, sorted slot b), its row t·B + sorted_indices[b] in the
    padded (T·B, .) tensor in the user's batch order."""
    sizes = torch.tensor(layout.batch_sizes)
    steps = torch.arange(layout.T).repeat_interleave(sizes)
    slots = torch.arange(layout.N) - torch.tensor(layout.offsets).repeat_interleave(sizes)
    return steps * layout.B + sorted_indices[slots]


def _shape_note(owner: str, I: int, batch_first: bool) -> str:
    batched = f"(B, T, {I})" if batch_first else f"(T, B, {I})"
    return f"{owner} expected input of shape {batched} or ({'T'}, {I}) unbatched"


class CheckedInput(NamedTuple):
    """A layer's input after its checks: a padded tensor, time-major, or a PackedSequence."""

    x: Tensor | None  # (T, B, I) time-major view of a tensor input; None for a PackedSequence
    packed: PackedSequence | None
    lengths: Tensor | None  # (B,) int64 CPU, each in [1, T], not all equal to T; or None
    B: int
    T: int
    batch_first: bool
    unbatched: bool

    @property
    def plain(self) -> bool:
        """A padded batch whose sequences all run T steps: (T, B, I) as it stands."""
        return self.x is not None and self.lengths is None


def check_input(
    owner: str,
    input: Tensor | PackedSequence,
    lengths: object,
    input_size: int,
    batch_first: bool,
    weight: Tensor,
) -> CheckedInput:
    """Validate ``input`` (and ``lengths``) against the layer: every error says what was
    expected and what came. No copy is made; lengths that all equal T are dropped."""
    if isinstance(input, PackedSequence):
        return _check_packed(owner, input, lengths, input_size, weight)
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{owner} expected input as a Tensor or PackedSequence, got {type(input).__name__}"
        )
    check_dtype_device(owner, "input", input, weight)
    if input.dim() not in (2, 3):
        raise ValueError(
            f"{_shape_note(owner, input_size, batch_first)}; got {fmt_shape(input.shape)}"
        )
    if input.shape[-1] != input_size:
        raise ValueError(
            f"{owner} expected input feature size {input_size}, got {input.shape[-1]} "
            f"(input shape {fmt_shape(input.shape)}, batch_first={batch_first})"
        )
    unbatched = input.dim() == 2
    if unbatched and lengths is not None:
        raise ValueError(
            f"{owner} got lengths with an unbatched input of shape {fmt_shape(input.shape)}; "
            "lengths needs a batch: (T, B, I), or (B, T, I) with batch_first=True"
        )
    x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if batch_first else input)
    T, B = x.shape[0], x.shape[1]
    if T == 0:
        raise ValueError(
            f"{owner} expected at least one time step, got T = 0 "
            f"(input shape {fmt_shape(input.shape)}, batch_first={batch_first})"
        )
    lens = None if lengths is None else as_lengths(lengths, B, T)
    if lens is not None and not torch.compiler.is_compiling() and int(lens.min()) == T:
        lens = None  # every sequence runs all T steps: a plain batch (eager: values are read)
    return CheckedInput(x, None, lens, B, T, batch_first, unbatched)


def _check_packed(
    owner: str, packed: PackedSequence, lengths: object, input_size: int, weight: Tensor
) -> CheckedInput:
    if lengths is not None:
        raise ValueError(
            f"{owner} got both a PackedSequence and lengths; a PackedSequence carries its own "
            "lengths, so pass lengths only with a padded tensor"
        )
    data = packed.data
    check_dtype_device(owner, "input", data, weight)
    if data.dim() != 2 or data.shape[1] != input_size:
        raise ValueError(
            f"{owner} expected PackedSequence data of shape (N, {input_size}), "
            f"got {fmt_shape(data.shape)}"
        )
    if packed.batch_sizes.numel() == 0:
        raise ValueError(f"{owner} expected at least one time step, got T = 0")
    T = packed.batch_sizes.numel()
    if torch.compiler.is_compiling() and packed.sorted_indices is not None:
        B = packed.sorted_indices.shape[0]  # the values are not read while tracing
    else:  # (enforce_sorted=True under torch.compile: reading batch_sizes[0] breaks the graph)
        B = int(packed.batch_sizes[0])
        rows = int(packed.batch_sizes.sum())
        if rows != data.shape[0]:  # a PackedSequence built by hand, or from mismatched lengths
            raise ValueError(
                f"{owner} expected PackedSequence data of {rows} rows (the sum of its "
                f"batch_sizes), got {data.shape[0]}"
            )
    return CheckedInput(None, packed, None, B, T, False, False)


def prepare_sequences(checked: CheckedInput) -> SeqBatch:
    """The checked input in the engine's packed layout (sorted by length where it has lengths)."""
    if checked.packed is not None:
        return _from_packed(checked.packed)
    x, T, B = checked.x, checked.T, checked.B
    pad_to, lens = 0, checked.lengths
    if lens is not None:
        shortest, longest = int(lens.min()), int(lens.max())
        if shortest < longest:
            return _from_lengths(x, lens, B, T, checked.batch_first)
        x, pad_to, T = x[:longest], T, longest  # equal lengths L < T: L steps, zeros after
    data = x.contiguous().view(T * B, x.shape[2])
    layout = time_layout((B,) * T)
    return SeqBatch(
        data, layout, B, T, None, None, checked.batch_first, checked.unbatched, pad_to=pad_to
    )


def _from_lengths(x: Tensor, lens: Tensor, B: int, T: int, batch_first: bool) -> SeqBatch:
    """Packed rows of a padded (T, B, I) batch with lengths, by one index_select (and the output
    padded back by one index_copy): torch's pack_padded_sequence / pad_packed_sequence and
    their backwards cost more than a whole LSTM sweep at B = 1 (measured 1.1 ms for the pad of
    750 steps)."""
    sorted_lens, sorted_indices = torch.sort(lens, descending=True)
    unsorted_indices = torch.empty_like(sorted_indices)
    unsorted_indices[sorted_indices] = torch.arange(B)
    steps = torch.arange(int(sorted_lens[0]))
    batch_sizes = (sorted_lens.unsqueeze(0) > steps.unsqueeze(1)).sum(1)
    layout = time_layout(tuple(batch_sizes.tolist()))
    rows = _packed_rows(layout, sorted_indices).to(x.device)
    data = x.reshape(T * B, x.shape[2]).index_select(0, rows)
    device = x.device
    return SeqBatch(
        data,
        layout,
        B,
        T,
        sorted_indices.to(device),
        unsorted_indices.to(device),
        batch_first,
        padded_rows=rows,
    )


def _from_packed(packed: PackedSequence) -> SeqBatch:
    layout = time_layout(tuple(packed.batch_sizes.tolist()))
    return SeqBatch(
        packed.data,
        layout,
        layout.B,
        layout.T,
        packed.sorted_indices,
        packed.unsorted_indices,
        batch_first=False,
        packed_batch_sizes=packed.batch_sizes,
    )
