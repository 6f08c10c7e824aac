"""Configs as dataclasses: one flag per field, a typo is an error, values come back typed."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from rnnkit.train import TrainConfig, add_arguments, from_args


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_arguments(parser, TrainConfig())
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


def test_epochs_alone_overrides_the_default_step_count():
    defaults = dataclasses.replace(TrainConfig(), steps=500)
    parser = argparse.ArgumentParser()
    add_arguments(parser, defaults)
    assert from_args(TrainConfig, parser.parse_args([])).steps == 500
    given = from_args(TrainConfig, parser.parse_args(["--epochs", "2"]))
    assert (given.steps, given.epochs) == (None, 2.0)
    assert from_args(TrainConfig, parser.parse_args(["--steps", "7"])).steps == 7
    both = from_args(TrainConfig, parser.parse_args(["--steps", "500", "--epochs", "2"]))
    assert (both.steps, both.epochs) == (500, 2.0)  # both given: the Trainer refuses it
