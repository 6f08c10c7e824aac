"""Flags from config dataclasses: one flag per field, a typo is an error, values come back typed,
the budget is checked before any work, and help shows defaults in plain text."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from rnnkit.commands.flags import HelpFormatter, add_arguments, from_args, select_backend
from rnnkit.errors import RnnkitError
from rnnkit.train import TrainConfig


def _parser(config=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(exit_on_error=False, formatter_class=HelpFormatter)
    add_arguments(parser, TrainConfig() if config is None else config)
    return parser


def test_every_field_has_a_flag_with_help():
    flags = {a.dest: a for a in _parser()._actions if a.dest != "help"}
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    assert set(flags) == set(fields)
    assert all(f.metadata.get("help") for f in fields.values())


def test_flags_parse_back_to_the_dataclass_with_types():
    args = _parser().parse_args(
        ["--steps", "5", "--lr", "0.01", "--optimizer", "sgd", "--no-progress", "--resume"]
    )
    cfg = from_args(TrainConfig, args)
    assert cfg == dataclasses.replace(
        TrainConfig(), steps=5, lr=0.01, optimizer="sgd", progress=False, resume=True
    )


def test_defaults_are_the_dataclass_defaults():
    assert from_args(TrainConfig, _parser().parse_args([])) == TrainConfig()


@pytest.mark.parametrize("argv", [["--stepz", "3"], ["--optimizer", "adagrad"], ["--lr", "fast"]])
def test_a_typo_or_bad_value_is_an_error(argv):
    with pytest.raises((argparse.ArgumentError, SystemExit)):
        _parser().parse_args(argv)


@pytest.mark.parametrize("default", [{"steps": 500}, {"epochs": 3.0}], ids=["steps", "epochs"])
def test_either_budget_flag_alone_overrides_the_default_budget(default):
    parser = _parser(dataclasses.replace(TrainConfig(), **default))
    assert from_args(TrainConfig, parser.parse_args([])) == dataclasses.replace(
        TrainConfig(), **default
    )
    given = from_args(TrainConfig, parser.parse_args(["--epochs", "2"]))
    assert (given.steps, given.epochs) == (None, 2.0)
    given = from_args(TrainConfig, parser.parse_args(["--steps", "7"]))
    assert (given.steps, given.epochs) == (7, None)


def test_steps_with_epochs_is_refused_by_the_flag_reader():
    args = _parser(dataclasses.replace(TrainConfig(), steps=500)).parse_args(
        ["--steps", "5", "--epochs", "1"]
    )
    with pytest.raises(RnnkitError, match="give --steps or --epochs, not both"):
        from_args(TrainConfig, args)


def test_a_value_the_config_refuses_is_one_rnnkit_error_line():
    @dataclasses.dataclass
    class Checked:
        n: int = 1

        def __post_init__(self):
            if self.n < 1:
                raise ValueError("expected n >= 1,\n  got 0")

    with pytest.raises(RnnkitError, match="^expected n >= 1, got 0$"):
        from_args(Checked, argparse.Namespace(n=0))


def test_help_shows_every_default_and_the_budget_default():
    text = _parser(dataclasses.replace(TrainConfig(), steps=500)).format_help()
    assert "``" not in text
    assert "(exclusive with --epochs) (default: 500)" in " ".join(text.split())
    shown = " ".join(text.split())  # a help may say its default in words: "; default: ..."
    assert shown.count("(default: ") + shown.count("; default: ") == len(
        dataclasses.fields(TrainConfig)
    )


def test_backend_help_lists_the_backends_and_a_bad_one_is_refused():
    import rnnkit

    text = " ".join(_parser().format_help().split())
    assert f"one of: {', '.join(rnnkit.BACKENDS)}" in text
    with pytest.raises(RnnkitError, match="--backend must be one of .*; got bogus"):
        select_backend("bogus")
