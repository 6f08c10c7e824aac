"""Spectra of recurrent weights: singular values and spectral radius of W_hh and its gate blocks.

For ``weight_hh_l{k}`` of shape (G, P) (G = gates * H; P = H, or proj_size for a projected
LSTM) we report the singular values of the whole matrix and, per gate block W_hh[g*H:(g+1)*H]
of shape (H, P), its singular values and spectral radius max |eigenvalue| (square blocks only).
Gate names follow torch.nn's order: LSTM (i, f, g, o), GRU (r, z, n), RNN (h,); a module may
declare its own with a ``gate_names`` attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

__all__ = ["GATE_NAMES", "GateSpectrum", "WeightSpectrum", "layer_spectra", "spectral_radius"]

GATE_NAMES = {
    "RNN_TANH": ("h",),
    "RNN_RELU": ("h",),
    "LSTM": ("i", "f", "g", "o"),
    "GRU": ("r", "z", "n"),
}


@dataclass
class GateSpectrum:
    """One (H, P) gate block of W_hh."""

    gate: str  # e.g. "f" for the LSTM's forget gate
    singular_values: Tensor  # (min(H, P),) float64, descending
    spectral_radius: float | None  # max |eigenvalue|; None when the block is not square


@dataclass
class WeightSpectrum:
    """One ``weight_hh_l{k}[_reverse]`` matrix (G, P) and its gate blocks."""

    name: str  # the parameter's name, e.g. "weight_hh_l0_reverse"
    singular_values: Tensor  # (min(G, P),) float64, descending
    spectral_radius: float | None  # of the whole matrix when square (G == P: RNN), else None
    gates: list[GateSpectrum] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "singular_values": self.singular_values.tolist(),
            "spectral_radius": self.spectral_radius,
            "gates": [
                {
                    "gate": g.gate,
                    "singular_values": g.singular_values.tolist(),
                    "spectral_radius": g.spectral_radius,
                }
                for g in self.gates
            ],
        }


def spectral_radius(W: Tensor) -> float:
    """max |eigenvalue| of a square matrix W (n, n), computed in float64."""
    if W.dim() != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"spectral_radius expected a square matrix (n, n); got {tuple(W.shape)}")
    return torch.linalg.eigvals(W.detach().double().cpu()).abs().max().item()


def _gate_names(module: nn.Module, G: int, H: int) -> tuple[str, ...]:
    names = getattr(module, "gate_names", None) or GATE_NAMES.get(getattr(module, "mode", ""))
    if names is not None and len(names) * H == G:
        return tuple(names)
    return tuple(f"g{i}" for i in range(G // H)) if G % H == 0 else ()


def weight_spectrum(name: str, W: Tensor, gate_names: tuple[str, ...]) -> WeightSpectrum:
    """Singular values and spectral radii of W (G, P) and of its len(gate_names) row blocks."""
    W = W.detach().double().cpu()
    square = W.shape[0] == W.shape[1]
    spectrum = WeightSpectrum(name, torch.linalg.svdvals(W), spectral_radius(W) if square else None)
    H = W.shape[0] // len(gate_names) if gate_names else 0
    for g, gate in enumerate(gate_names):
        block = W[g * H : (g + 1) * H]  # (H, P)
        radius = spectral_radius(block) if block.shape[0] == block.shape[1] else None
        spectrum.gates.append(GateSpectrum(gate, torch.linalg.svdvals(block), radius))
    return spectrum


def layer_spectra(module: nn.Module, layer: int) -> list[WeightSpectrum]:
    """Spectra of ``weight_hh_l{layer}`` (and ``_reverse``) of ``module``; [] if it has none."""
    spectra = []
    for suffix in ("", "_reverse"):
        name = f"weight_hh_l{layer}{suffix}"
        W = getattr(module, name, None)
        if isinstance(W, Tensor) and W.dim() == 2:
            gates = _gate_names(module, W.shape[0], getattr(module, "hidden_size", W.shape[0]))
            spectra.append(weight_spectrum(name, W, gates))
    return spectra
