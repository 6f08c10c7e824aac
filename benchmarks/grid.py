"""The benchmark grid: cells, layouts, (B, T, I, H) configs, modes, and analytic FLOP counts.

FLOPs count the GEMMs only (pointwise math ignored): one layer-direction's forward is
``2 * rows * G * (I_l + H)`` with ``rows = T * B`` (or the sum of the lengths for packed input),
``G = gates * H`` and ``I_l`` the layer's input width (``I`` for layer 0, ``D * H`` above).
A train step (forward + backward) counts ``3 x`` the forward.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CELLS",
    "CONFIGS",
    "LAYOUTS",
    "MODES",
    "QUICK_SKIP",
    "TINY",
    "CellSpec",
    "Config",
    "Layout",
    "forward_flops",
    "mode_flops",
    "parse_config",
    "parse_configs",
]


@dataclass(frozen=True)
class Config:
    """One shape of the grid: batch B, time T, input width I, hidden width H."""

    B: int
    T: int
    I: int
    H: int

    @property
    def label(self) -> str:
        return f"B{self.B} T{self.T} I{self.I} H{self.H}"


@dataclass(frozen=True)
class Layout:
    """How the cells are stacked: number of layers and directions."""

    name: str
    num_layers: int
    bidirectional: bool

    @property
    def D(self) -> int:
        return 2 if self.bidirectional else 1


@dataclass(frozen=True)
class CellSpec:
    """A cell kind: its torch.nn / rnnkit layer name, its one-step torch.nn cell, its gate count."""

    layer: str  # "LSTM": torch.nn.LSTM and rnnkit.LSTM
    step_cell: str  # "LSTMCell": the torch.nn cell the Python-loop baseline steps
    gates: int  # G = gates * H
    packable: bool  # benchmarked with lengths (packed input)


CELLS = {
    "rnn": CellSpec("RNN", "RNNCell", 1, packable=False),
    "lstm": CellSpec("LSTM", "LSTMCell", 4, packable=True),
    "gru": CellSpec("GRU", "GRUCell", 3, packable=True),
}
CONFIGS = (
    Config(32, 100, 128, 256),
    Config(64, 200, 256, 512),
    Config(16, 500, 64, 128),
    Config(1, 1000, 32, 64),
    Config(128, 50, 512, 1024),
)
QUICK_SKIP = (1, 4)  # the two largest configs by FLOPs, skipped by --quick
TINY = Config(2, 5, 3, 4)  # `--configs tiny`: for tests and smoke runs
LAYOUTS = (Layout("1L uni", 1, False), Layout("2L bi", 2, True))
# train: fwd+bwd of output.sum(); infer: forward under no_grad; stream: T calls of one step at
# B=1 with carried state (no_grad); packed: train with random lengths in [T/2, T].
MODES = ("train", "infer", "stream", "packed")


def forward_flops(gates: int, cfg: Config, layout: Layout, rows: int | None = None) -> int:
    """GEMM FLOPs of one forward pass over all layer-directions; ``rows`` defaults to T * B."""
    rows = cfg.T * cfg.B if rows is None else rows
    G, total = gates * cfg.H, 0
    for layer in range(layout.num_layers):
        I_l = cfg.I if layer == 0 else layout.D * cfg.H
        total += layout.D * 2 * rows * G * (I_l + cfg.H)
    return total


def mode_flops(gates: int, cfg: Config, layout: Layout, mode: str, rows: int | None) -> int:
    """FLOPs of one timed run of ``mode``; ``rows`` is the packed row count for "packed"."""
    if mode == "stream":
        return forward_flops(gates, cfg, layout, rows=cfg.T)  # B = 1
    fwd = forward_flops(gates, cfg, layout, rows=rows if mode == "packed" else None)
    return fwd if mode == "infer" else 3 * fwd


def parse_config(text: str) -> Config:
    """``"B,T,I,H"`` (e.g. ``"2,5,3,4"``) as a Config."""
    parts = text.replace("x", ",").split(",")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or min(values) < 1:
        raise ValueError(f"expected a config as four positive ints B,T,I,H; got {text!r}")
    return Config(*values)


def parse_configs(text: str, quick: bool) -> list[tuple[int | str, Config]]:
    """``"all"``, ``"tiny"`` or comma-separated indices into CONFIGS, as (id, Config) pairs.

    ``quick`` drops the QUICK_SKIP configs from ``"all"``; named indices are kept as asked.
    """
    if text == "all":
        picked = [i for i in range(len(CONFIGS)) if not (quick and i in QUICK_SKIP)]
        return [(i, CONFIGS[i]) for i in picked]
    if text == "tiny":
        return [("tiny", TINY)]
    out = []
    for part in text.split(","):
        if not part.strip().isdigit() or int(part) >= len(CONFIGS):
            raise ValueError(
                f"expected --configs 'all', 'tiny' or indices in 0..{len(CONFIGS) - 1} "
                f"separated by commas; got {text!r}"
            )
        out.append((int(part), CONFIGS[int(part)]))
    return out
