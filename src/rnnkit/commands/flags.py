"""Command-line flags generated from config dataclasses, read back typed, with plain help.

Every config in rnnkit is a dataclass whose fields carry their help text (``opt(default, help)``
from ``rnnkit.train``); ``add_arguments`` turns one into flags (``seq_len`` -> ``--seq-len``,
``choices=`` as argparse choices, bools as ``--x/--no-x``) and ``from_args`` reads the parsed
flags back, so a flag exists exactly when a field does and a typo is an argparse error.

``from_args`` is also where the training budget is checked, before any work: ``--steps`` and
``--epochs`` exclude each other, and a recipe's default budget applies only when neither is
given. ``HelpFormatter`` shows every option's default and drops the double backticks of the
docstrings it prints. ``select_backend`` checks and sets the ``--backend`` of a predict command.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from .. import engine
from ..errors import RnnkitError
from ..train import TrainConfig, check_backend

__all__ = [
    "BACKEND_HELP",
    "HelpFormatter",
    "add_arguments",
    "add_backend",
    "add_train_parser",
    "from_args",
    "select_backend",
]

BUDGET = ("steps", "epochs")  # the fields of a training budget: give one, not both
_BUDGET_DEFAULTS = "_budget_defaults"  # where add_arguments keeps a config's default budget
BACKEND_HELP = f"rnnkit scan backend, one of: {', '.join(engine.BACKENDS)}"


def _plain(text: str) -> str:
    """``text`` without reStructuredText's double backticks (``rnnkit`` -> rnnkit)."""
    return text.replace("``", "")


class HelpFormatter(argparse.HelpFormatter):
    """argparse help in plain text, every option with its default (unless its help says it)."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(_plain(text))

    def _get_help_string(self, action: argparse.Action) -> str:
        text = _plain(action.help or "")
        if "%(default)" in text or re.search(r"(^|; |\()default: ", text):
            return text  # the help says it in words ("...; default: the training series")
        if action.default is argparse.SUPPRESS or action.required:
            return text
        if not action.option_strings and action.default is None:
            return text  # a positional with nothing to show
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


def _flag_type(hint: Any) -> tuple[Any, bool]:
    """(the argparse type of a field annotation, whether it is a bool)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return hint, hint is bool


def add_arguments(
    parser: argparse.ArgumentParser,
    config: Any,
    skip: tuple[str, ...] = (),
    helps: Mapping[str, str] | None = None,
) -> None:
    """Add one ``--flag`` per field of the dataclass instance ``config`` (values as defaults).

    ``skip`` names fields without a flag; ``helps`` replaces a field's help text (a flag whose
    meaning depends on the command, such as a task's ``--T``).
    """
    hints = typing.get_type_hints(type(config))
    budget = all(hasattr(config, name) for name in BUDGET)
    if budget:  # --epochs alone must win over a default --steps, and the other way round
        parser.set_defaults(**{_BUDGET_DEFAULTS: {n: getattr(config, n) for n in BUDGET}})
    for f in dataclasses.fields(config):
        if f.name in skip:
            continue
        kind, is_bool = _flag_type(hints[f.name])
        default = getattr(config, f.name)
        help_text = (helps or {}).get(f.name, f.metadata.get("help", ""))
        flag = "--" + f.name.replace("_", "-")
        if is_bool:
            action = argparse.BooleanOptionalAction
            parser.add_argument(flag, action=action, default=default, help=help_text, dest=f.name)
            continue
        if budget and f.name in BUDGET:
            help_text += f" (default: {default})"  # shown; applied by from_args
            default = None
        choices = f.metadata.get("choices")
        parser.add_argument(
            flag, type=kind, default=default, choices=choices, help=help_text, dest=f.name
        )


def from_args(cls: type, args: argparse.Namespace) -> Any:
    """The dataclass ``cls`` filled from the parsed flags that ``add_arguments`` made.

    ``RnnkitError`` (one line) for ``--steps`` with ``--epochs``, or for a value the config's own
    checks refuse.
    """
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}
    defaults = getattr(args, _BUDGET_DEFAULTS, None)
    if defaults is not None and all(name in values for name in BUDGET):
        given = [name for name in BUDGET if values[name] is not None]
        if len(given) > 1:
            raise RnnkitError("give --steps or --epochs, not both")
        if not given:
            values.update(defaults)
    try:
        return cls(**values)
    except RnnkitError:
        raise
    except ValueError as err:  # a config's __post_init__ refusing a value
        raise RnnkitError(" ".join(str(err).split())) from None


def add_backend(parser: argparse.ArgumentParser) -> None:
    """``--backend`` of a command that uses a trained model (checked by ``select_backend``)."""
    parser.add_argument("--backend", default="auto", help=BACKEND_HELP)


def select_backend(name: str) -> None:
    """A predict/sample command's ``--backend``: checked (before any work), then set."""
    check_backend(name)
    engine.set_backend(name)


def add_train_parser(
    commands, about: str, config_cls: type, train_defaults: TrainConfig, recipe: types.ModuleType
) -> None:
    """A recipe's ``train`` subcommand: flags from its config and ``TrainConfig`` (defaults from
    the recipe's ``train_defaults``; its budget applies when neither --steps nor --epochs is
    given), read back and checked before any work, then ``recipe.train(cfg, tcfg)`` (looked up
    at run time, so a patched ``train`` is the one called)."""
    train = commands.add_parser(
        "train", help=about, description=about, formatter_class=HelpFormatter
    )
    add_arguments(train, config_cls())
    add_arguments(train, train_defaults)
    train.set_defaults(func=functools.partial(_train, config_cls, recipe))


def _train(config_cls: type, recipe: types.ModuleType, args: argparse.Namespace) -> int:
    cfg, tcfg = from_args(config_cls, args), from_args(TrainConfig, args)  # checked first
    recipe.train(cfg, tcfg)
    return 0
