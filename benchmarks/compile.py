"""torch.compile of a small language model: rnnkit's layers against torch.nn's, eager and compiled.

    python benchmarks/compile.py                     # GRU, B16 T100 H64, forward + backward
    python benchmarks/compile.py --cell lstm --batch 32 --hidden 256 --name compile_lstm

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
from report import machine_info, write_atomic, write_json
from timing import gemm_peak

LAYERS = {"gru": (rnnkit.GRU, torch.nn.GRU), "lstm": (rnnkit.LSTM, torch.nn.LSTM),
          "rnn": (rnnkit.RNN, torch.nn.RNN)}  # fmt: skip


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


def _step(model, tokens) -> None:
    out = model(tokens)
    torch.autograd.grad(out.square().mean(), list(model.parameters()))


def run(args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    ours_cls, torch_cls = LAYERS[args.cell]
    ours = LanguageModel(ours_cls(args.embed, args.hidden, batch_first=True), 64, args.embed,
                         args.hidden)  # fmt: skip
    theirs = LanguageModel(torch_cls(args.embed, args.hidden, batch_first=True), 64, args.embed,
                           args.hidden)  # fmt: skip
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
    for name, model in contenders.items():
        start = time.perf_counter()
        _step(model, tokens)
        first[name] = (time.perf_counter() - start) * 1e3
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, model in contenders.items():
            start = time.perf_counter()
            _step(model, tokens)
            times[name].append((time.perf_counter() - start) * 1e3)
    return {
        name: {"first_call_ms": round(first[name], 1),
               "steady_ms": round(statistics.median(t), 3)}
        for name, t in times.items()
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", choices=sorted(LAYERS), default="gru")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=100, help="T")
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--name", default="compile")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = run(args)
    device = torch.device("cpu")
    machine = machine_info(device, args.threads, gemm_peak(device, (1024,)))
    payload = {"command": " ".join(["python benchmarks/compile.py", *(argv or sys.argv[1:])]),
               "options": vars(args), "machine": machine, "results": results}  # fmt: skip
    out = Path(__file__).resolve().parent / "results"
    write_json(out / f"{args.name}.json", payload)
    eager = results["rnnkit eager"]["steady_ms"]
    lines = [
        f"# torch.compile: {args.cell.upper()} B{args.batch} T{args.steps} H{args.hidden}",
        "", f"`{payload['command']}`", "",
        f"- cpu: {machine['cpu_model']} ({', '.join(machine['cpu_flags'])}), threads "
        f"{args.threads}, torch {machine['torch']}", "",
        "| model | first call ms | steady ms | vs rnnkit eager |", "|---|---:|---:|---:|",
    ]  # fmt: skip
    for name, r in results.items():
        ratio = eager / r["steady_ms"]
        lines.append(f"| {name} | {r['first_call_ms']:.0f} | {r['steady_ms']:.2f} | {ratio:.2f}x |")
    bare = [results[f"no recurrent layer {k}"]["steady_ms"] for k in ("eager", "compiled")]
    ours = [results[f"rnnkit {k}"]["steady_ms"] for k in ("eager", "compiled")]
    lines += ["", f"torch.compile's own cost a step (the model without its recurrent layer, "
              f"compiled - eager): {bare[1] - bare[0]:.3f} ms; with rnnkit's layer: "
              f"{ours[1] - ours[0]:.3f} ms"]  # fmt: skip
    text = "\n".join(lines) + "\n"
    write_atomic(out / f"{args.name}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
