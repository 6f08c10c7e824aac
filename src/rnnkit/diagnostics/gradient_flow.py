"""``gradient_flow``: how much the loss still "hears" each time step, per recurrent layer.

For every recurrent layer inside a model (modules that are ``rnnkit.RNNBase`` or
``torch.nn.RNNBase``, or shaped like them: see ``unroll.is_recurrent_layer``; stacked modules
per layer, bidirectional ones per direction too) it measures ‖dL/dh_t‖ for every step t: the
norm, over batch and features, of the *total* derivative of the loss with respect to the
hidden state h_t, through every later state (see ``unroll.py`` for how: the module runs one
step at a time inside the call). Alongside, the singular values and spectral radii of each
``weight_hh_l{k}`` and its gate blocks.

    report = gradient_flow(model, x, lambda out: F.mse_loss(out[-1, :, 0], y))
    report.ratio()  # {"rnn.l0": ‖dL/dh_1‖ / ‖dL/dh_T‖, ...}
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .spectra import WeightSpectrum, layer_spectra
from .unroll import StepRecord, recurrent_modules, unrolled

__all__ = ["GradientFlowReport", "LayerFlow", "gradient_flow"]


@dataclass
class LayerFlow:
    """Gradient norms through time of one layer of one recurrent module."""

    module: str  # qualified name inside the model, e.g. "encoder.rnn"
    layer: int  # index in the module's stack
    grad_norm: Tensor  # (T,) ‖dL/dh_t‖ over batch, directions and features, t = 1..T in order
    grad_norm_per_direction: Tensor  # (D, T): row 0 forward in time, row 1 the reverse direction
    cell_grad_norm: Tensor | None  # (T,) ‖dL/dc_t‖ for cells with a second state (LSTM), else None
    spectra: list[WeightSpectrum] = field(default_factory=list)  # one per direction with W_hh

    @property
    def name(self) -> str:
        return f"{self.module}.l{self.layer}"

    def ratio(self) -> float:
        """‖dL/dh_1‖ / ‖dL/dh_T‖: near 0 means the first step is not heard (vanishing)."""
        first, last = self.grad_norm[0].item(), self.grad_norm[-1].item()
        return first / last if last > 0 else (math.inf if first > 0 else math.nan)

    def to_dict(self) -> dict:
        return {
            "module": self.module,
            "layer": self.layer,
            "ratio": self.ratio(),
            "grad_norm": self.grad_norm.tolist(),
            "grad_norm_per_direction": self.grad_norm_per_direction.tolist(),
            "cell_grad_norm": None if self.cell_grad_norm is None else self.cell_grad_norm.tolist(),
            "spectra": [s.to_dict() for s in self.spectra],
        }


@dataclass
class GradientFlowReport:
    """What :func:`gradient_flow` measured: one :class:`LayerFlow` per recurrent layer."""

    loss: float  # the loss value of the measured forward pass
    T: int  # time steps of the input
    layers: list[LayerFlow]  # in the order the modules appear in model.named_modules()

    def ratio(self) -> dict[str, float]:
        """Layer name -> ‖dL/dh_1‖ / ‖dL/dh_T‖."""
        return {layer.name: layer.ratio() for layer in self.layers}

    def to_dict(self) -> dict:
        """A JSON-ready dict (tensors as lists)."""
        return {"loss": self.loss, "T": self.T, "layers": [x.to_dict() for x in self.layers]}


def _step_norms(record: StepRecord, grads: list[Tensor | None]) -> Tensor:
    """(T,) norm over batch and features of the gradient of one state at each step."""
    norms = []
    for t, g in enumerate(grads):
        if g is None:
            norms.append(0.0)
            continue
        if record.mask is not None:  # padding steps of short sequences do not count
            g = g * record.mask[t, :, None]
        norms.append(g.double().pow(2).sum().item())
    return torch.tensor(norms, dtype=torch.float64).sqrt()


def _layer_flows(name: str, module: nn.Module, records: list[StepRecord], grads) -> list[LayerFlow]:
    flows = []
    for layer in range(module.num_layers):
        mine = [r for r in records if r.layer == layer]
        per_dir = torch.stack([_step_norms(r, grads[id(r)][0]) for r in mine])  # (D, T)
        cell = None
        if all(grads[id(r)][1] is not None for r in mine):
            cell_dirs = torch.stack([_step_norms(r, grads[id(r)][1]) for r in mine])
            cell = cell_dirs.pow(2).sum(0).sqrt()
        flows.append(
            LayerFlow(
                module=name,
                layer=layer,
                grad_norm=per_dir.pow(2).sum(0).sqrt(),
                grad_norm_per_direction=per_dir,
                cell_grad_norm=cell,
                spectra=layer_spectra(module, layer),
            )
        )
    return flows


def gradient_flow(
    model: nn.Module, inputs: Tensor | tuple, loss_fn: Callable[[object], Tensor]
) -> GradientFlowReport:
    """Run ``model(inputs)`` (``model(*inputs)`` for a plain tuple; a PackedSequence is one
    input), ``loss_fn(output)`` -> scalar, and
    measure ‖dL/dh_t‖ for every step of every recurrent layer, with W_hh spectra.

    Parameter ``.grad`` fields are left untouched (gradients come from ``torch.autograd.grad``).
    A module called more than once in the forward pass is reported per call
    (``name#1``, ``name#2``, ...).
    """
    modules = recurrent_modules(model)
    if not modules:
        raise ValueError(
            f"gradient_flow found no recurrent layer in {type(model).__name__}: expected "
            "modules that are rnnkit.RNNBase or torch.nn.RNNBase"
        )
    with unrolled(modules) as calls:
        output = model(*inputs) if type(inputs) is tuple else model(inputs)
        loss = loss_fn(output)
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise ValueError(f"gradient_flow expected loss_fn to return a scalar tensor; got {loss!r}")
    records = [r for name, _ in modules for call in calls[name] for r in call]
    nodes = [s for r in records for state in r.states for s in state[:2]]
    flat = iter(torch.autograd.grad(loss, nodes, allow_unused=True))
    grads = {}  # id(record) -> ([dL/dh_t per t], [dL/dc_t per t] or [None] * T)
    for r in records:
        h, c = [], []
        for state in r.states:
            h.append(next(flat))
            c.append(next(flat) if len(state) > 1 else None)
        grads[id(r)] = (h, c if any(x is not None for x in c) else None)
    layers, T = [], 0
    for name, module in modules:
        for i, call in enumerate(calls[name]):
            label = name if len(calls[name]) == 1 else f"{name}#{i + 1}"
            layers += _layer_flows(label, module, call, grads)
            T = max(T, len(call[0].states))
    return GradientFlowReport(loss=loss.item(), T=T, layers=layers)
