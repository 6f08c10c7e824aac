"""torch.compile of a small language model: rnnkit's layers against torch.nn's, eager and compiled.

    python benchmarks/compile.py                     # GRU, B16 T100 H64, forward + backward
    python benchmarks/compile.py --cell lstm --batch 32 --hidden 256 --name compile_lstm
    python benchmarks/compile.py --cell cifg     # a cell of one's own vs torch.nn.LSTM
    python benchmarks/compile.py --bf16 --batch 64 --hidden 512   # under bfloat16 autocast

The model is an embedding, a recurrent layer (rnnkit's or torch.nn's, the same weights) and a
linear head; a step is forward and backward of the mean squared output. For each of the four
(rnnkit / torch.nn, eager / ``torch.compile(fullgraph=True, dynamic=True)``, inductor) it
records the first call's time (the compilation) and the median steady-state time, all in one
process, alternating; the same pair for the model without its recurrent layer (embedding of
width H straight into the head) shows what torch.compile's runtime costs a step by itself.
Then writes benchmarks/results/{name}.json and .md with the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rnnkit
from cell_loops import cifg_cell
from report import machine_info, write_results
from timing import gemm_peak


def _cifg(*args, **kwargs) -> rnnkit.Recurrent:
    """A layer of one's own cell (the CIFG LSTM of docs/custom_cells.md)."""
    return rnnkit.Recurrent(cifg_cell(), *args, **kwargs)


# (torch.nn has no CIFG: the cifg row runs torch.nn.LSTM of equal width, with its own weights)
LAYERS = {"gru": (rnnkit.GRU, torch.nn.GRU), "lstm": (rnnkit.LSTM, torch.nn.LSTM),
          "rnn": (rnnkit.RNN, torch.nn.RNN), "cifg": (_cifg, torch.nn.LSTM)}  # fmt: skip


class LanguageModel(torch.nn.Module):
    def __init__(self, layer: torch.nn.Module, vocab: int, embed: int, hidden: int):
        super().__init__()
        self.embed, self.rnn = torch.nn.Embedding(vocab, embed), layer
        self.head = torch.nn.Linear(hidden, vocab)

    def forward(self, tokens):
        y, _ = self.rnn(self.embed(tokens))
        return self.head(y)


class NoLayer(torch.nn.Module):
    """The same embedding and head with no recurrent layer between them (embed == hidden): what
    torch.compile's own runtime costs per step (guards, AOT autograd's wrappers), no rnnkit."""

    def __init__(self, vocab: int, hidden: int):
        super().__init__()
        self.embed, self.head = torch.nn.Embedding(vocab, hidden), torch.nn.Linear(hidden, vocab)

    def forward(self, tokens):
        return self.head(self.embed(tokens))


def _step(model, tokens, bf16: bool = False) -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = model(tokens)
    torch.autograd.grad(out.float().square().mean(), list(model.parameters()))


def run(args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    ours_cls, torch_cls = LAYERS[args.cell]
    ours = LanguageModel(ours_cls(args.embed, args.hidden, batch_first=True), 64, args.embed,
                         args.hidden)  # fmt: skip
    theirs = LanguageModel(torch_cls(args.embed, args.hidden, batch_first=True), 64, args.embed,
                           args.hidden)  # fmt: skip
    if args.cell != "cifg":
        theirs.load_state_dict(ours.state_dict())
    tokens = torch.randint(0, 64, (args.batch, args.steps))
    bare = NoLayer(64, args.hidden)
    contenders = {
        "rnnkit eager": ours,
        "rnnkit compiled": torch.compile(ours, fullgraph=True, dynamic=True),
        "torch.nn eager": theirs,
        "torch.nn compiled": torch.compile(theirs, dynamic=True),  # its LSTM breaks fullgraph
        "no recurrent layer eager": bare,
        "no recurrent layer compiled": torch.compile(bare, fullgraph=True, dynamic=True),
    }
    first = {}
    bf16 = getattr(args, "bf16", False)
    for name, model in contenders.items():
        start = time.perf_counter()
        _step(model, tokens, bf16)
        first[name] = (time.perf_counter() - start) * 1e3
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, model in contenders.items():
            start = time.perf_counter()
            _step(model, tokens, bf16)
            times[name].append((time.perf_counter() - start) * 1e3)
    return {
        name: {"first_call_ms": round(first[name], 1),
               "steady_ms": round(statistics.median(t), 3)}
        for name, t in times.items()
    }  # fmt: skip


def model_options(p: argparse.ArgumentParser, repeats: int, threads: int, name: str) -> None:
    """The small language model's options (also benchmarks/aoti.py's)."""
    p.add_argument("--cell", choices=sorted(LAYERS), default="gru")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=100, help="T")
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--repeats", type=int, default=repeats)
    p.add_argument("--threads", type=int, default=threads)
    p.add_argument("--name", default=name)


def measure_and_write(argv, script: str, title: str, run, first: tuple[str, str, str],
                      steady: str, defaults: dict, extra=None, options=None) -> int:  # fmt: skip
    """Parse the model options (``defaults``: repeats, threads, name; ``options(parser)`` adds
    a script's own), ``run(args)`` -> {contender: {first[0]: ..., "steady_ms": ...}}, and
    write the results: a table of the first column (key, header, format), steady ms
    (``steady`` format) and the ratio to rnnkit eager, then ``extra(results)``'s lines."""
    p = argparse.ArgumentParser(description=title)
    model_options(p, **defaults)
    if options is not None:
        options(p)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = run(args)
    device = torch.device("cpu")
    machine = machine_info(device, args.threads, gemm_peak(device, (1024,)))
    eager = results["rnnkit eager"]["steady_ms"]
    key, header, fmt = first
    table = [f"| model | {header} | steady ms | vs rnnkit eager |", "|---|---:|---:|---:|"]
    for name, r in results.items():
        ratio = eager / r["steady_ms"]
        table.append(f"| {name} | {r[key]:{fmt}} | {r['steady_ms']:{steady}} | {ratio:.2f}x |")
    table += extra(results) if extra else []
    command = " ".join([f"python benchmarks/{script}", *(argv or sys.argv[1:])])
    shape = f"{args.cell.upper()} B{args.batch} T{args.steps} H{args.hidden}"
    shape += " under bfloat16 autocast" if getattr(args, "bf16", False) else ""
    write_results(args.name, command, vars(args), machine, results, f"{title}: {shape}", table)
    return 0


def _own_cost(results: dict) -> list[str]:
    bare = [results[f"no recurrent layer {k}"]["steady_ms"] for k in ("eager", "compiled")]
    ours = [results[f"rnnkit {k}"]["steady_ms"] for k in ("eager", "compiled")]
    return ["", f"torch.compile's own cost a step (the model without its recurrent layer, "
            f"compiled - eager): {bare[1] - bare[0]:.3f} ms; with rnnkit's layer: "
            f"{ours[1] - ours[0]:.3f} ms"]  # fmt: skip


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--bf16",
        action="store_true",
        help="every step under torch.autocast('cpu', dtype=torch.bfloat16)",
    )


def main(argv: list[str] | None = None) -> int:
    defaults = {"repeats": 20, "threads": 2, "name": "compile"}
    return measure_and_write(argv, "compile.py", "torch.compile", run,
                             ("first_call_ms", "first call ms", ".0f"), ".2f", defaults,
                             _own_cost, _options)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
