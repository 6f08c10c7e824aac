"""The test report of a finished run, and the attention heat map.

``test_report`` loads the best checkpoint (best.pt, else last.pt), decodes every distinct
test source greedily and, with ``--beam-size`` K > 1, with beam search too; it writes
``test_metrics.json`` (rates, counts, decoding time, a few examples), prints the table, and
with ``--plot`` draws ``attention.png``: the greedy decoder's attention over the source for a
few validation sources (rows: output tokens, columns: source tokens).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from ...atomic import atomic_write
from ...train import BEST, LAST, load_checkpoint
from ...train.recipe import Run
from .decode import score_heldout
from .metrics import format_table, write_json
from .search import greedy
from .vocab import SeqVocab, encode_batch, split

__all__ = ["ATTENTION_FILE", "METRICS_FILE", "plot_attention", "test_report"]

METRICS_FILE = "test_metrics.json"  # the test report in the run folder
ATTENTION_FILE = "attention.png"
HEATMAPS = 4  # validation sources drawn in attention.png


def test_report(run: Run) -> dict[str, Any]:
    """Score the best checkpoint on the test split (see the module docstring)."""
    data, cfg = run.data, run.cfg
    name = BEST if (run.out / BEST).exists() else LAST
    best = load_checkpoint(run.out / name)
    run.model.load_state_dict(best["model"])
    model = run.model.cpu()
    beams = [1] if cfg.beam_size == 1 else [1, cfg.beam_size]
    results, rows = {}, {}
    for k in beams:
        start = time.perf_counter()
        metrics, outputs = score_heldout(model, data.src_vocab, data.tgt_vocab, data.test, k,
                                         cfg.length_penalty, cfg.max_length,
                                         cfg.stressed_cmudict)  # fmt: skip
        seconds = time.perf_counter() - start
        key = "greedy" if k == 1 else f"beam_{k}"
        metrics.update(seconds=round(seconds, 2), sources_per_s=round(len(outputs) / seconds, 1))
        results[key] = metrics
        rows["greedy" if k == 1 else f"beam {k}"] = metrics
        test = data.test
        examples = [
            {"source": s, "output": o, "references": r}
            for s, o, r in zip(test.sources, outputs, test.references)
        ]
    report = {
        "checkpoint": name,
        "step": best["step"],
        "validation": {k: float(v) for k, v in best["last_eval"].items()},
        "test": results,
        "examples": data.sizes(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": round(run.seconds, 1),
        "samples": examples[:20],
    }
    write_json(run.out / METRICS_FILE, report)
    run.log(f"test ({len(data.test):,} sources, {name} of step {best['step']}):")
    run.log(format_table(rows))
    if run.tcfg.plot:
        sources = data.val.sources[:HEATMAPS]
        plot_attention(model, data.src_vocab, data.tgt_vocab, sources, run.out / ATTENTION_FILE)
    run.log(f"test report in {run.out / METRICS_FILE}")
    return report


def plot_attention(
    model: torch.nn.Module,
    src_vocab: SeqVocab,
    tgt_vocab: SeqVocab,
    sources: list[str],
    path: str | Path,
) -> bool:
    """Greedy-decode ``sources`` and draw each one's attention weights into ``path`` (PNG);
    False when matplotlib is missing or the model has no attention."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    was_training = model.training
    model.eval()
    src, lengths = encode_batch(src_vocab, sources, eos=False)
    hyps, maps = greedy(model, src, lengths, keep_attention=True)
    model.train(was_training)
    if not maps:
        return False
    fig, axes = plt.subplots(1, len(sources), figsize=(3.2 * len(sources), 3.6), dpi=100)
    for ax, source, hyp, weights in zip(list(getattr(axes, "flat", [axes])), sources, hyps, maps):
        out = [tgt_vocab.tokens[i] for i in hyp.tokens] + ["<eos>"]
        ax.imshow(weights[: len(out)].numpy(), cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(weights.shape[1]), split(source, src_vocab.level)[: weights.shape[1]])
        ax.set_yticks(range(len(out[: weights.shape[0]])), out[: weights.shape[0]], fontsize=8)
        ax.set_title(source, fontsize=9)
    fig.suptitle("attention (rows: output, columns: source)")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"), binary=True)
    plt.close(fig)
    return True
