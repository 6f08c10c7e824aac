"""``rnnkit export onnx``: a trained recipe's model as an ONNX file (rnnkit.export.to_onnx).

    rnnkit export onnx --checkpoint runs/textgen --output textgen.onnx
    rnnkit export onnx --checkpoint runs/textgen --output step.onnx --stream
    rnnkit export onnx --checkpoint runs/forecast --output forecast.onnx

    rnnkit export onnx --checkpoint runs/classify --output classify.onnx
    rnnkit export onnx --checkpoint runs/tag --output tag.onnx
    rnnkit export onnx --checkpoint runs/speech --output speech.onnx
    rnnkit export onnx --checkpoint runs/translate --output g2p.onnx

textgen: token ids (B, T) in, logits (B, T, V) and the final state out; with ``--stream`` the
graph takes the state too (one chunk, often one token, at a time: feed each call's state to
the next). forecast: a window (B, L, 1) of scaled values in, the scaled forecasts (B, horizon)
out. classify: ``tokens`` (B, T) post-padded ids and their ``lengths`` (B,) in, ``logits``
(B, K) out. tag: ``words`` (B, T), ``lengths`` (B,) and, where the model reads them,
``chars`` (B, T, C) and ``bigrams`` (B, T + 1) in, ``emissions`` (B, T, K) and ``tags``
(B, T) out (the CRF's Viterbi path, an ONNX Loop over time; 0 past each length). speech:
raw feature frames ``feats`` (B, T, F) (the recognizer's ``features`` of the audio) and their
``lengths`` in, CTC ``log_probs`` (B, T', C) (id 0 the blank) and ``out_lengths`` (B,) out
(decoding is left to the runner). Batch and time stay dynamic; the lengths are the ONNX
recurrent operators' ``sequence_lens`` (every other ``--cell``: an ONNX ``Loop`` over time of
its step, the lengths a mask). translate: two graphs beside the --output name, g2p.onnx ->
g2p.encoder.onnx (``src`` (B, S) ids and ``lengths`` in; ``memory`` (B, S, H), the
attention's ``keys`` where it projects them, the decoder's first state ``h``, ``c``, ``feed``
out) and g2p.decoder.onnx, one decoder step (``tokens`` (B,), the state, ``memory``, ``keys``,
``lengths`` in; ``log_probs`` (B, V), ``next_h``, ``next_c``, ``next_feed``, ``attention``
(B, S) out): the search loop stays in the runner (docs/deploy.md has a greedy one); and
g2p.vocab.json, the tokens of each side in id order. A checkpoint of no rnnkit recipe is
refused with a one-line error.
"""

from __future__ import annotations

import argparse
import functools
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import CheckpointError, RnnkitError
from ..export import flat_tensors, to_onnx
from .flags import HelpFormatter

__all__ = ["add_parser"]


def add_parser(subparsers) -> None:
    """Add ``export`` with its ``onnx`` subcommand to ``subparsers``."""
    about = "export a trained model for deployment"
    export = subparsers.add_parser("export", help=about, description=about)
    commands = export.add_subparsers(dest="export_command", required=True, metavar="FORMAT")
    about = "write a recipe checkpoint's model as an ONNX file (dynamic batch and time)"
    p = commands.add_parser("onnx", help=about, description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--checkpoint", required=True, help="run directory or .pt file")
    p.add_argument(
        "--output",
        type=Path,
        default=Path("model.onnx"),
        help="the .onnx file to write (translate: X.onnx names X.encoder.onnx, ...)",
    )
    p.add_argument(
        "--stream", action="store_true", help="textgen: the state in and out (step by step)"
    )
    p.set_defaults(func=_onnx)


def _task(checkpoint: str) -> str:
    """The recipe that wrote ``checkpoint`` (a run directory or a file)."""
    from ..train import BEST, LAST, load_checkpoint

    path = Path(checkpoint)
    if path.is_dir():
        path = path / BEST if (path / BEST).exists() else path / LAST
    config = load_checkpoint(path).get("config")
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(task, str):
        raise CheckpointError(f"{path} holds no rnnkit recipe's model (no task recorded)")
    return task


def _onnx(args: argparse.Namespace) -> int:
    task = _task(args.checkpoint)
    if args.stream and task != "textgen":
        raise RnnkitError(f"--stream exports textgen models; {args.checkpoint} is a {task} model")
    if task == "translate":
        from ..export_translate import export_translator

        encoder, decoder, vocab = export_translator(args.checkpoint, args.output)
        print(f"wrote {encoder}, {decoder} (translate: the encoder, one decoder step) and {vocab}")
        return 0
    if task not in _RECIPES:
        raise RnnkitError(
            f"{task} models have no ONNX export; export textgen, forecast, classify, tag, "
            "speech or translate checkpoints"
        )
    model, example, names, outputs = _RECIPES[task](args)
    names += [f"state{k}" for k in range(len(flat_tensors(example)) - len(names))]
    path = to_onnx(model, example, args.output, input_names=names, output_names=outputs)
    print(f"wrote {path} ({task}{', streaming' if args.stream else ''})")
    return 0


def _textgen(args: argparse.Namespace) -> tuple:
    from ..tasks.textgen import load_model

    model = load_model(args.checkpoint)[0].eval()
    tokens = torch.zeros(1, 8, dtype=torch.int64)
    example = (tokens, model(tokens)[1]) if args.stream else (tokens,)
    return model, example, ["tokens"], None


def _forecast(args: argparse.Namespace) -> tuple:
    from ..tasks.forecast import load_model

    model = load_model(args.checkpoint)[0].eval()
    return model, (torch.zeros(1, 16, model.rnn.input_size),), ["window"], None


_LENGTHS = torch.tensor([8, 5])  # the example batch: two post-padded sequences, one shorter


def _classify(args: argparse.Namespace) -> tuple:
    from ..tasks.classify import load_classifier

    model = load_classifier(args.checkpoint).model
    tokens = torch.ones(2, 8, dtype=torch.int64)
    return model, (tokens, _LENGTHS), ["tokens", "lengths"], ["logits"]


def _tag(args: argparse.Namespace) -> tuple:
    from ..tasks.tag import load_tagger

    model = TagExport(load_tagger(args.checkpoint).model)
    example, names = [torch.ones(2, 8, dtype=torch.int64), _LENGTHS], ["words", "lengths"]
    if model.tagger.chars is not None:
        example.append(torch.ones(2, 8, 6, dtype=torch.int64))
        names.append("chars")
    if model.tagger.bigrams is not None:
        example.append(torch.ones(2, 9, dtype=torch.int64))
        names.append("bigrams")
    return model, tuple(example), names, ["emissions", "tags"]


def _speech(args: argparse.Namespace) -> tuple:
    from ..tasks.speech.recognizer import load_recognizer

    recognizer = load_recognizer(args.checkpoint)
    seeded = torch.Generator().manual_seed(0)  # frames that vary: the check compares something
    frames = torch.randn(2, 40, recognizer.features.dim, generator=seeded)
    example, outputs = (frames, torch.tensor([40, 27])), ["log_probs", "out_lengths"]
    return recognizer.model, example, ["feats", "lengths"], outputs


_RECIPES = {"textgen": _textgen, "forecast": _forecast, "classify": _classify, "tag": _tag,
            "speech": _speech}  # fmt: skip


class TagExport(nn.Module):
    """A tagger from tensors (its forward takes a TagBatch): ``(words, lengths[, chars][,
    bigrams])`` -> emissions (B, T, K) and the best tags (B, T) as ``decode`` gives them (the
    CRF's Viterbi path, 0 past each length; without a CRF each token's argmax)."""

    def __init__(self, tagger: nn.Module):
        super().__init__()
        self.tagger = tagger

    def forward(self, words: Tensor, lengths: Tensor, *extra: Tensor) -> tuple[Tensor, Tensor]:
        from ..tasks.tag.data import TagBatch

        rest = list(extra)
        chars = rest.pop(0) if self.tagger.chars is not None else None
        bigrams = rest.pop(0) if self.tagger.bigrams is not None else None
        emissions = self.tagger(TagBatch(words, chars, bigrams, lengths, None))
        if self.tagger.crf is None:
            return emissions, emissions.argmax(dim=2)
        return emissions, _scripted_viterbi()(emissions, lengths, *self.tagger.crf.scores())


@functools.cache
def _scripted_viterbi():
    """``viterbi`` compiled by TorchScript, once (a module attribute would not deep-copy)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's notes on its own maintenance
        return torch.jit.script(viterbi)


def viterbi(
    emissions: Tensor, lengths: Tensor, start: Tensor, trans: Tensor, end: Tensor
) -> Tensor:
    """CRF.decode's best path (B, T), 0 past each length, as a TorchScript function: its loops
    over time become ONNX ``Loop``s of dynamic length (traced, they would be unrolled to the
    example's T). ``start`` (K,), ``trans`` (K, K) (previous tag, next), ``end`` (K,) as
    ``CRF.scores()`` gives them."""
    B, T, K = emissions.shape[0], emissions.shape[1], emissions.shape[2]
    mask = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
    delta = start + emissions[:, 0]  # (B, K): best score of a prefix ending in k
    keep = torch.arange(K).unsqueeze(0).expand(B, K)  # the backpointer of a padding step
    pointers = [keep]
    for t in range(1, T):
        best, arg = (delta.unsqueeze(2) + trans).max(dim=1)  # (B, K) over the previous tag
        on = mask[:, t].unsqueeze(1)
        delta = torch.where(on, best + emissions[:, t], delta)
        pointers.append(torch.where(on, arg, keep))
    tag = (delta + end).argmax(dim=1)  # (B,) the best last tag
    path = [tag]
    for i in range(T - 1):  # back along the pointers (no list.reverse: ONNX drops it)
        tag = pointers[T - 1 - i].gather(1, tag.unsqueeze(1)).squeeze(1)
        path.append(tag)
    return torch.stack(path, dim=1).flip(1).masked_fill(~mask, 0)
