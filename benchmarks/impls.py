"""What gets timed: torch.nn and rnnkit twins with copied weights, the Python-loop baseline, and
one closure per mode that runs one timed step.

Every closure takes no arguments. Train closures are split into ``forward_loss() -> loss`` (so
the saved-tensor measurement can see the graph before backward) and the timed
``step() = forward_loss().backward()``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from grid import CELLS, Config, Layout

__all__ = ["CellLoop", "Inputs", "build_models", "mode_closures", "output_diff"]


class CellLoop(nn.Module):
    """``ref`` (a torch.nn RNN/LSTM/GRU) as a Python loop over torch.nn cells, under autograd."""

    def __init__(self, ref: nn.RNNBase, cell: str) -> None:
        super().__init__()
        spec, D = CELLS[cell], 2 if ref.bidirectional else 1
        cell_cls = getattr(nn, spec.step_cell)
        self.num_layers, self.D = ref.num_layers, D
        self.cells = nn.ModuleList()
        for layer in range(ref.num_layers):
            I_l = ref.input_size if layer == 0 else D * ref.hidden_size
            for direction in range(D):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                step = cell_cls(I_l, ref.hidden_size).to(ref.weight_ih_l0)
                with torch.no_grad():
                    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                        getattr(step, name).copy_(getattr(ref, name + suffix))
                self.cells.append(step)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (T, B, I) -> output (T, B, D*H), zero initial state."""
        for layer in range(self.num_layers):
            outs = []
            for direction in range(self.D):
                step, xs = self.cells[layer * self.D + direction], x.unbind(0)
                order = range(len(xs) - 1, -1, -1) if direction else range(len(xs))
                state, ys = None, []
                for t in order:
                    state = step(xs[t], state)  # h, or (h, c) for LSTMCell
                    ys.append(state[0] if isinstance(state, tuple) else state)
                if direction:
                    ys.reverse()
                outs.append(torch.stack(ys))
            x = torch.cat(outs, dim=-1) if self.D == 2 else outs[0]
        return x


class Inputs:
    """The tensors one (cell, config, layout) is run on; fixed seeds."""

    def __init__(self, cfg: Config, device: torch.device) -> None:
        gen = torch.Generator().manual_seed(1234)
        self.x = torch.randn(cfg.T, cfg.B, cfg.I, generator=gen).to(device)  # (T, B, I)
        self.x.requires_grad_(True)
        self.x_stream = torch.randn(cfg.T, 1, cfg.I, generator=gen).to(device).split(1)
        lo = max(1, cfg.T // 2)
        self.lengths = torch.randint(lo, cfg.T + 1, (cfg.B,), generator=gen)  # CPU int64
        self.packed_rows = int(self.lengths.sum())


def build_models(cell: str, cfg: Config, layout: Layout, device: torch.device):
    """(torch.nn model, rnnkit model) with equal weights, on ``device``, float32."""
    name = CELLS[cell].layer
    torch.manual_seed(0)
    kwargs = {"num_layers": layout.num_layers, "bidirectional": layout.bidirectional}
    ref = getattr(nn, name)(cfg.I, cfg.H, **kwargs).to(device)
    ours = getattr(rnnkit, name)(cfg.I, cfg.H, **kwargs).to(device)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours


def _clear_grads(model: nn.Module, x: Tensor) -> None:
    for p in model.parameters():
        p.grad = None
    x.grad = None


def _padded_output(model: nn.Module, x: Tensor, lengths: Tensor | None, is_torch: bool) -> Tensor:
    """Output (T, B, D*H); with ``lengths``: torch via pack/pad, rnnkit via ``lengths=``."""
    if lengths is None or isinstance(model, CellLoop):
        out = model(x)
        return out[0] if isinstance(out, tuple) else out
    if is_torch:
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, _ = pad_packed_sequence(model(packed)[0], total_length=x.shape[0])
        return out
    return model(x, lengths=lengths)[0]


def mode_closures(
    model: nn.Module, mode: str, inputs: Inputs, is_torch: bool
) -> tuple[Callable[[], None], Callable[[], Tensor] | None]:
    """(timed step, forward_loss or None) for ``model`` in ``mode``."""
    x = inputs.x
    if mode in ("train", "packed"):
        lengths = inputs.lengths if mode == "packed" else None

        def forward_loss() -> Tensor:
            _clear_grads(model, x)
            return _padded_output(model, x, lengths, is_torch).sum()

        return (lambda: forward_loss().backward()), forward_loss
    if mode == "infer":

        def infer() -> None:
            with torch.no_grad():
                model(x)

        return infer, None
    if mode == "stream":

        def stream() -> None:
            with torch.no_grad():
                h = None
                for x_t in inputs.x_stream:  # (1, 1, I) each: one step, B = 1
                    _, h = model(x_t, h)

        return stream, None
    raise ValueError(f"unknown mode {mode!r}")


def output_diff(ref: nn.Module, ours: nn.Module, inputs: Inputs, mode: str) -> float | None:
    """max |rnnkit - torch| of the layer output on the benchmark input (a sanity check)."""
    if mode == "stream":
        return None
    lengths = inputs.lengths if mode == "packed" else None
    with torch.no_grad():
        a = _padded_output(ref, inputs.x, lengths, is_torch=True)
        b = _padded_output(ours, inputs.x, lengths, is_torch=False)
    return float((a - b).abs().max())
