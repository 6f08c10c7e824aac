"""Decoding speed of a trained ``rnnkit translate`` model: sources per second, greedy and
beam 5, at batch 1 and 64, with the decoder's recurrent stack on rnnkit's engine and on
torch.nn's layer (same weights: rnnkit keeps torch.nn's parameter names), back to back.

    python benchmarks/translate_decoding.py runs/translate [--sources 640] [--threads 1]

The sources are the first ``--sources`` validation words of the run's split. Every pass
checks that both decoders write the same outputs. Prints a table; ``--json FILE`` keeps it.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from rnnkit.tasks.translate import load_translator, translate_texts
from rnnkit.tasks.translate.data import load_cmudict, read_pairs, split_by_source

TORCH_LAYERS = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN_TANH": nn.RNN, "RNN_RELU": nn.RNN}


def torch_twin(layer: nn.Module) -> nn.Module:
    """torch.nn's layer with ``layer``'s shape and weights (LSTM, GRU and the plain RNNs)."""
    cls = TORCH_LAYERS[layer.mode]
    extra = {"nonlinearity": "relu"} if layer.mode == "RNN_RELU" else {}
    twin = cls(layer.input_size, layer.hidden_size, layer.num_layers, batch_first=True,
               dropout=layer.dropout, **extra)  # fmt: skip
    twin.load_state_dict(layer.state_dict())
    return twin.eval()


def sources(translator, n: int) -> list[str]:
    """The first ``n`` distinct validation sources of the run's own split."""
    cfg = translator.config
    pairs = (
        load_cmudict()
        if cfg.data is None
        else read_pairs(cfg.data, cfg.source_column, cfg.target_column, cfg.encoding)
    )
    _, val, _ = split_by_source(pairs, cfg.val_split, cfg.test_split, cfg.split_seed)
    seen = list(dict.fromkeys(pairs[i][0] for i in val))
    return seen[:n]


def rate(translator, texts: list[str], beam: int, batch: int) -> tuple[float, list[str]]:
    """(sources per second, outputs) of decoding ``texts`` ``batch`` at a time."""
    t = translator
    translate_texts(
        t.model, t.src_vocab, t.tgt_vocab, texts[:batch], beam, 1, batch_size=batch * beam
    )  # fmt: skip  (warm-up)
    start = time.perf_counter()
    out = translate_texts(t.model, t.src_vocab, t.tgt_vocab, texts, beam, 1,
                          batch_size=batch * beam)  # fmt: skip
    seconds = time.perf_counter() - start
    return len(texts) / seconds, [best[0][0] for best in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="run directory or .pt file")
    parser.add_argument("--sources", type=int, default=640, help="sources decoded per pass")
    parser.add_argument("--batch1-sources", type=int, default=128, help="sources at batch 1")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    translator = load_translator(args.checkpoint)
    texts = sources(translator, args.sources)
    rnnkit_rnn = translator.model.decoder.rnn
    twin = torch_twin(rnnkit_rnn)
    rows = []
    for beam in (1, 5):
        for batch in (1, 64):
            n = args.batch1_sources if batch == 1 else len(texts)
            result = {"beam": beam, "batch": batch, "sources": n}
            outputs = {}
            for name, layer in (("rnnkit", rnnkit_rnn), ("torch.nn", twin)):
                translator.model.decoder.rnn = layer
                speed, outputs[name] = rate(translator, texts[:n], beam, batch)
                result[name] = round(speed, 1)
            translator.model.decoder.rnn = rnnkit_rnn
            result["same_outputs"] = outputs["rnnkit"] == outputs["torch.nn"]
            rows.append(result)
            print(json.dumps(result), flush=True)
    print(f"{'decoding':<16}{'batch':>6}{'rnnkit':>10}{'torch.nn':>10}  sources/s")
    for r in rows:
        name = "greedy" if r["beam"] == 1 else f"beam {r['beam']}"
        print(f"{name:<16}{r['batch']:>6}{r['rnnkit']:>10.1f}{r['torch.nn']:>10.1f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
