"""rnnkit.export.quantize_dynamic: int8 against float32 inference, the recipes' default shapes.

    python benchmarks/quantize.py                 # 1 thread
    python benchmarks/quantize.py --threads 2

Models with random weights in the shapes of textgen's default (embedding 64, LSTM 256, an
81-symbol head: one sampling step, B 1 T 200, B 32 T 100) and classify's default (embedding
128 over 10,000 words, GRU 128, one logit; B 32 T 100 with lengths uniform in 10..100). For
each: rnnkit float32, its torch.nn twin float32, int8 LSTM / GRU only, int8 LSTM / GRU and
Linear; the median CPU time of interleaved runs (ms; with more threads, summed over them)
and the largest output change relative to the largest float32 output. Accuracy on trained
checkpoints: docs/deploy.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import rnnkit
from rnnkit.export import onnx_copy, quantize_dynamic


class LanguageModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.rnn = torch.nn.Embedding(81, 64), rnnkit.LSTM(64, 256, batch_first=True)
        self.head = torch.nn.Linear(256, 81)

    def forward(self, tokens):
        return self.head(self.rnn(self.embed(tokens))[0])


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(10000, 128)
        self.rnn, self.head = rnnkit.GRU(128, 128, batch_first=True), torch.nn.Linear(128, 1)

    def forward(self, tokens, lengths):
        return self.head(self.rnn(self.embed(tokens), lengths=lengths)[1][-1])


def _medians(calls: dict, reps: int) -> dict[str, float]:
    """Median CPU ms of each call (process time: on a shared machine, the time others hold the
    core is not counted), the calls interleaved (drift hits them all)."""
    for call in calls.values():
        call(), call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(reps):
        for name, call in calls.items():
            start = time.process_time()
            call()
            times[name].append(time.process_time() - start)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = [
        ("textgen LSTM 256, B 1 T 1", LanguageModel(), (torch.randint(0, 81, (1, 1)),), 400),
        ("textgen LSTM 256, B 1 T 200", LanguageModel(), (torch.randint(0, 81, (1, 200)),), 30),
        ("textgen LSTM 256, B 32 T 100", LanguageModel(), (torch.randint(0, 81, (32, 100)),), 15),
        ("classify GRU 128, B 32 T 100, lengths", Classifier(),
         (torch.randint(0, 10000, (32, 100)), torch.randint(10, 101, (32,))), 20),
    ]  # fmt: skip
    print(f"{args.threads} thread(s); CPU ms (output change relative to float32's largest value)")
    for name, model, inputs, reps in cases:
        model.eval()
        contenders = {
            "rnnkit float32": model,
            "torch.nn float32": onnx_copy(model),
            "int8 rnn": quantize_dynamic(model, linear=False),
            "int8 rnn + linear": quantize_dynamic(model),
        }
        with torch.inference_mode():
            ms = _medians({k: (lambda m=m, x=inputs: m(*x)) for k, m in contenders.items()}, reps)
            want = model(*inputs)
            err = {k: float((m(*inputs) - want).abs().max() / want.abs().max())
                   for k, m in contenders.items()}  # fmt: skip
        cells = " | ".join(f"{k} {ms[k]:.3f} ({err[k]:.1e})" for k in contenders)
        print(f"{name}: {cells}", flush=True)


if __name__ == "__main__":
    main()
