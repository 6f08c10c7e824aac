"""Diagnostics for recurrent models: gradient flow through time and recurrent-weight spectra."""

from .gradient_flow import GradientFlowReport, LayerFlow, gradient_flow
from .plot import plot_gradient_flow
from .spectra import GateSpectrum, WeightSpectrum, layer_spectra, spectral_radius
from .unroll import recurrent_modules

__all__ = [
    "GateSpectrum",
    "GradientFlowReport",
    "LayerFlow",
    "WeightSpectrum",
    "gradient_flow",
    "layer_spectra",
    "plot_gradient_flow",
    "recurrent_modules",
    "spectral_radius",
]
