"""``rnnkit export onnx``: a trained recipe's model as an ONNX file (rnnkit.export.to_onnx).

    rnnkit export onnx --checkpoint runs/textgen --output textgen.onnx
    rnnkit export onnx --checkpoint runs/textgen --output step.onnx --stream
    rnnkit export onnx --checkpoint runs/forecast --output forecast.onnx

textgen: token ids (B, T) in, logits (B, T, V) and the final state out; with ``--stream`` the
graph takes the state too (one chunk, often one token, at a time: feed each call's state to
the next). forecast: a window (B, L, 1) of scaled values in, the scaled forecasts (B, horizon)
out. Batch and time stay dynamic. Recipes whose models take ``lengths`` (classify, tag,
translate, speech) have no ONNX form yet: refused with a one-line error, as is a checkpoint
of no rnnkit recipe.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

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
    if task == "textgen":
        from ..tasks.textgen import load_model

        model = load_model(args.checkpoint)[0].eval()
        tokens = torch.zeros(1, 8, dtype=torch.int64)
        example = (tokens, model(tokens)[1]) if args.stream else (tokens,)
        names = ["tokens"]
    elif task == "forecast":
        from ..tasks.forecast import load_model

        model = load_model(args.checkpoint)[0].eval()
        example, names = (torch.zeros(1, 16, model.rnn.input_size),), ["window"]
    else:
        raise RnnkitError(
            f"{task} models have no ONNX export yet (their layers take lengths=); "
            "export textgen or forecast checkpoints"
        )
    names += [f"state{k}" for k in range(len(flat_tensors(example)) - len(names))]
    path = to_onnx(model, example, args.output, input_names=names)
    print(f"wrote {path} ({task}{', streaming' if args.stream else ''})")
    return 0
