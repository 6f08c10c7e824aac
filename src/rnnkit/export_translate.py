"""ONNX export of a translate model (an attentive encoder-decoder) as the two graphs seq2seq
models ship in, and a greedy runner over them (numpy and onnxruntime only).

    enc, dec, vocab = rnnkit.export_translate.export_translator("runs/translate", "g2p.onnx")
    # -> g2p.encoder.onnx, g2p.decoder.onnx, g2p.vocab.json (a model alone: the two graphs)
    ids, scores = greedy_onnx(encoder_session, decoder_session, src, lengths)
    beam_search(OnnxSeq2Seq(encoder_path, decoder_path), src, lengths)  # the recipe's search

The encoder graph takes the source ids and lengths and returns the memory and the decoder's
first state; the decoder graph is one step: previous tokens, state, memory -> log-probabilities,
next state, attention weights (their inputs and outputs: rnnkit/tasks/translate/graphs.py).
Each is written by ``rnnkit.export.to_onnx``, so the recurrent layers become ONNX's own
LSTM / GRU / RNN operators (the encoder's lengths their ``sequence_lens``) or a ``Loop`` of
the cell's step, batch and source length stay dynamic, and onnxruntime's outputs are checked
against the model's before anything is written. The search loop, of data-dependent length,
stays in the runner: ``greedy_onnx`` here (numpy), or the recipe's own greedy and beam search
driving the graphs through ``OnnxSeq2Seq``.

This module sits beside rnnkit.export, above the recipes: it reads the translate recipe's
model and checkpoints (``rnnkit export onnx`` calls it for translate runs).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .errors import RnnkitError
from .export import to_onnx
from .tasks.translate import DecoderState, Seq2Seq, load_translator
from .tasks.translate.graphs import DecoderStepGraph, EncoderGraph, examples
from .tasks.translate.vocab import BOS, EOS, PAD

__all__ = ["OnnxSeq2Seq", "export_translator", "graph_paths", "greedy_onnx"]

PARTS = ("encoder.onnx", "decoder.onnx", "vocab.json")  # the names beside --output's stem


def graph_paths(path: str | os.PathLike) -> tuple[Path, Path, Path]:
    """The files written for ``path``: ``model.onnx`` -> (``model.encoder.onnx``,
    ``model.decoder.onnx``, ``model.vocab.json``) beside it (the vocabularies: from a run)."""
    path = Path(path)
    stem = path.name[: -len(".onnx")] if path.name.endswith(".onnx") else path.name
    encoder, decoder, vocab = (path.with_name(f"{stem}.{part}") for part in PARTS)
    return encoder, decoder, vocab


def export_translator(
    model: Seq2Seq | str | os.PathLike, path: str | os.PathLike, *, check: bool = True
) -> tuple[Path, ...]:
    """Write ``model`` (a ``Seq2Seq``, or a translate run directory / checkpoint file) as an
    encoder graph and a decoder-step graph beside ``path`` (``graph_paths``), and for a run its
    vocabularies as JSON (``{"source": {"level", "tokens"}, "target": ...}``, a token's id its
    place in the list); returns the paths written. ``check``: onnxruntime's outputs against the
    model's (where it is installed). All files or none: a failure leaves what was there; a
    model alone removes the vocabularies an earlier export left beside the same name."""
    vocab = None
    if not isinstance(model, nn.Module):
        translator = load_translator(model)
        model, vocab = translator.model, {"source": translator.src_vocab.to_dict(),
                                          "target": translator.tgt_vocab.to_dict()}  # fmt: skip
    if not isinstance(model, Seq2Seq):
        raise RnnkitError(f"export_translator expected a Seq2Seq; got {type(model).__name__}")
    targets = graph_paths(path)
    if not targets[0].parent.is_dir():
        raise RnnkitError(f"cannot write {path}: the directory {targets[0].parent} does not exist")
    was_training = model.training
    model.eval()
    try:
        graphs = (EncoderGraph(model), DecoderStepGraph(model))
        return _write_all(graphs, examples(model), vocab, targets, check)
    finally:
        model.train(was_training)


def _write_all(graphs, inputs, vocab, targets, check: bool) -> tuple[Path, ...]:
    """Each graph (and ``vocab`` where given) to a temporary file beside its target, then all
    moved into place."""
    temps: list[Path] = []

    def temporary(target: Path) -> str:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        temps.append(Path(tmp))
        return tmp

    try:
        for graph, example, target in zip(graphs, inputs, targets):
            to_onnx(graph, example, temporary(target), input_names=graph.input_names,
                    output_names=graph.output_names, check=check)  # fmt: skip
        if vocab is not None:
            Path(temporary(targets[2])).write_text(json.dumps(vocab, ensure_ascii=False), "utf-8")
        for tmp, target in zip(temps, targets):
            os.replace(tmp, target)
        if vocab is None:  # a model alone: another model's vocabularies must not stay beside it
            targets[2].unlink(missing_ok=True)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return targets[: len(temps)]


def greedy_onnx(
    encoder, decoder, src: np.ndarray, lengths: np.ndarray, max_length: int | None = None
) -> tuple[list[list[int]], np.ndarray]:
    """Greedy decoding over the two graphs (onnxruntime ``InferenceSession``s of the files
    ``export_translator`` writes) for src (B, S) int64 post-padded ids and lengths (B,) int64:
    each row's token ids (without ``<eos>``) and its summed log-probability (B,), as
    ``rnnkit.tasks.translate.greedy`` gives them. ``max_length``: most tokens a row writes
    (default 2 x its source length + 10). Needs numpy and onnxruntime only."""
    B = src.shape[0]
    limits = np.full(B, max_length) if max_length else 2 * lengths + 10
    values = dict(zip([o.name for o in encoder.get_outputs()],
                      encoder.run(None, {"src": src, "lengths": lengths})))  # fmt: skip
    values["lengths"] = lengths
    wanted = [i.name for i in decoder.get_inputs()]
    returned = [o.name for o in decoder.get_outputs()]
    y = np.full(B, BOS, dtype=np.int64)
    done, scores, steps = np.zeros(B, dtype=bool), np.zeros(B, dtype=np.float32), []
    for t in range(int(limits.max())):
        values["tokens"] = y
        out = dict(zip(returned, decoder.run(None, {n: values[n] for n in wanted})))
        y = out["log_probs"].argmax(axis=1)  # (B,)
        scores += np.where(done, 0.0, out["log_probs"][np.arange(B), y])
        steps.append(np.where(done, PAD, y))
        values.update({n: out[f"next_{n}"] for n in wanted if f"next_{n}" in out})
        done |= (y == EOS) | (limits <= t + 1)
        if done.all():
            break
    ids = [[int(i) for i in row] for row in np.stack(steps, axis=1)]
    return [row[: row.index(EOS)] if EOS in row else [i for i in row if i != PAD]
            for row in ids], scores  # fmt: skip


class OnnxSeq2Seq:
    """The two graphs (onnxruntime sessions, or the paths of the files) as the translate
    recipe's searches see a ``Seq2Seq``, so they run on onnxruntime unchanged:
    ``beam_search(OnnxSeq2Seq(encoder, decoder), src, lengths, beam_size=5)``, ``greedy(...)``
    (torch tensors in and out; each step's ``log_probs`` stand for the logits, which the
    search's log-softmax leaves as they are)."""

    def __init__(self, encoder, decoder):
        self.encoder, self.step_graph = (_session(g) for g in (encoder, decoder))
        self.decoder = self  # the searches call model.decoder.step
        self._wanted = [i.name for i in self.step_graph.get_inputs()]
        self._returned = [o.name for o in self.step_graph.get_outputs()]
        self._states = [n for n in self._wanted if f"next_{n}" in self._returned]

    def start(self, src: Tensor, lengths: Tensor) -> tuple[_Rows, DecoderState]:
        """src (B, S), lengths (B,) -> (what each step reads of the source, the first state)."""
        feed = {"src": src.cpu().numpy(), "lengths": lengths.cpu().numpy()}
        names = [o.name for o in self.encoder.get_outputs()]
        out = {n: torch.from_numpy(v) for n, v in zip(names, self.encoder.run(None, feed))}
        out["lengths"] = lengths.cpu()
        reads = _Rows({n: out[n] for n in ("memory", "keys", "lengths") if n in self._wanted})
        hx = tuple(out[n] for n in self._states if n != "feed")
        return reads, DecoderState(hx, out.get("feed") if "feed" in self._states else None)

    def step(
        self, y: Tensor, state: DecoderState, memory: _Rows
    ) -> tuple[Tensor, DecoderState, Tensor | None]:
        """y (N,) -> (log-probabilities (N, V), the next state, attention (N, S) or None)."""
        values = {**memory, **dict(zip(self._states, (*state.hx, state.feed))), "tokens": y}
        feed = {n: values[n].numpy() for n in self._wanted}
        out = dict(zip(self._returned, self.step_graph.run(None, feed)))
        nxt = [torch.from_numpy(out[f"next_{n}"]) for n in self._states]
        feed_next = nxt.pop() if "feed" in self._states else None
        weights = torch.from_numpy(out["attention"]) if "attention" in out else None
        return torch.from_numpy(out["log_probs"]), DecoderState(tuple(nxt), feed_next), weights

    def bos(self, n: int, device: torch.device) -> Tensor:
        """(n,) <bos> ids: the first decoder input."""
        return torch.full((n,), BOS, dtype=torch.long)


class _Rows(dict):
    """The source as the step reads it (memory, keys, lengths by name), row-selectable as the
    recipe's ``Memory`` (beam search repeats each source K times)."""

    def select(self, index: Tensor) -> _Rows:
        return _Rows({n: t.index_select(0, index) for n, t in self.items()})


def _session(graph):
    """An onnxruntime session of ``graph`` (a path; a session is returned as it is)."""
    if not isinstance(graph, (str, os.PathLike)):
        return graph
    import onnxruntime

    return onnxruntime.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
