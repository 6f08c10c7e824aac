"""``rnnkit export onnx``: a trained recipe's model as an ONNX file (rnnkit.export.to_onnx).

    rnnkit export onnx --checkpoint runs/textgen --output textgen.onnx
    rnnkit export onnx --checkpoint runs/textgen --output step.onnx --stream
    rnnkit export onnx --checkpoint runs/forecast --output forecast.onnx

    rnnkit export onnx --checkpoint runs/classify --output classify.onnx
    rnnkit export onnx --checkpoint runs/tag --output tag.onnx

textgen: token ids (B, T) in, logits (B, T, V) and the final state out; with ``--stream`` the
graph takes the state too (one chunk, often one token, at a time: feed each call's state to
the next). forecast: a window (B, L, 1) of scaled values in, the scaled forecasts (B, horizon)
out. classify: ``tokens`` (B, T) post-padded ids and their ``lengths`` (B,) in, ``logits``
(B, K) out. tag: ``words`` (B, T), ``lengths`` (B,) and, where the model reads them,
``chars`` (B, T, C) and ``bigrams`` (B, T + 1) in, ``emissions`` (B, T, K) out (the CRF's
Viterbi decoding is left to the runner). Batch and time stay dynamic; the lengths are the
ONNX recurrent operators' ``sequence_lens``. translate and speech have no ONNX export yet:
refused with a one-line error, as is a checkpoint of no rnnkit recipe.
"""

from __future__ import annotations

import argparse
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
        "--output", type=Path, default=Path("model.onnx"), help="the .onnx file to write"
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
    if task not in _RECIPES:
        why = _NOT_YET.get(task, "no exporter for it")
        raise RnnkitError(
            f"{task} models have no ONNX export yet ({why}); export textgen, forecast, "
            "classify or tag checkpoints"
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

    model = TagEmissions(load_tagger(args.checkpoint).model)
    example, names = [torch.ones(2, 8, dtype=torch.int64), _LENGTHS], ["words", "lengths"]
    if model.tagger.chars is not None:
        example.append(torch.ones(2, 8, 6, dtype=torch.int64))
        names.append("chars")
    if model.tagger.bigrams is not None:
        example.append(torch.ones(2, 9, dtype=torch.int64))
        names.append("bigrams")
    return model, tuple(example), names, ["emissions"]


_NOT_YET = {
    "translate": "its decoder runs a search loop of data-dependent length",
    "speech": "its acoustic model has not been tried with the exporter",
}
_RECIPES = {"textgen": _textgen, "forecast": _forecast, "classify": _classify, "tag": _tag}


class TagEmissions(nn.Module):
    """A tagger's emissions from tensors (its forward takes a TagBatch): ``(words, lengths[,
    chars][, bigrams])`` -> (B, T, K)."""

    def __init__(self, tagger: nn.Module):
        super().__init__()
        self.tagger = tagger

    def forward(self, words: Tensor, lengths: Tensor, *extra: Tensor) -> Tensor:
        from ..tasks.tag.data import TagBatch

        rest = list(extra)
        chars = rest.pop(0) if self.tagger.chars is not None else None
        bigrams = rest.pop(0) if self.tagger.bigrams is not None else None
        return self.tagger(TagBatch(words, chars, bigrams, lengths, None))
