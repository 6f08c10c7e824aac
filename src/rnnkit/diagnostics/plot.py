"""``plot_gradient_flow``: ‖dL/dh_t‖ against t on a log scale, one line per cell (and layer).

Uses matplotlib's object API with the Agg canvas (no pyplot, no display, no global backend
change). The PNG is written to a temporary file beside ``path`` and moved into place with
``os.replace``, so a reader never sees a half-written file. matplotlib is an optional
dependency: ``pip install matplotlib``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..atomic import atomic_write
from .gradient_flow import GradientFlowReport

__all__ = ["plot_gradient_flow"]


def _figure():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plot_gradient_flow needs matplotlib: pip install matplotlib") from err
    fig = Figure(figsize=(7.0, 4.2), dpi=120)
    FigureCanvasAgg(fig)
    return fig


def plot_gradient_flow(
    reports: dict[str, GradientFlowReport], path: str | os.PathLike, title: str | None = None
) -> Path:
    """Write a PNG of ‖dL/dh_t‖ vs t for each report (label: its key, plus the layer when the
    report has several); returns the path written."""
    if not reports:
        raise ValueError("plot_gradient_flow expected at least one report; got none")
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for label, report in reports.items():
        for layer in report.layers:
            name = label if len(report.layers) == 1 else f"{label} {layer.name}"
            norms = layer.grad_norm.clamp_min(1e-300)  # log scale: an exact 0 would vanish
            ratio = layer.ratio()
            ax.plot(range(1, len(norms) + 1), norms.tolist(), label=f"{name} (ratio {ratio:.2e})")
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel("‖dL/dh_t‖ (batch and features)")
    ax.set_title(title or "Gradient flow through time (loss at the last step)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return atomic_write(path, lambda f: fig.savefig(f, format="png"), binary=True)
