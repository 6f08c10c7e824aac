"""The ``rnnkit`` command: help, version, flag typos, and train-then-sample as a user runs it."""

from __future__ import annotations

import argparse
import inspect
import os
import re
import shutil
import subprocess
import sys

import pytest

import rnnkit
import rnnkit.cli
from rnnkit.cli import COMMANDS, build_parser, main
from rnnkit.data import load_shakespeare


def _rnnkit() -> list[str]:
    """The installed ``rnnkit`` script, else ``python -m rnnkit``."""
    script = shutil.which("rnnkit")
    return [script] if script else [sys.executable, "-m", "rnnkit"]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def _leaves(parser=None, path=()) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every parser that runs a command, by its words: ("synth", "adding"), ...."""
    children = _subparsers(parser or build_parser())
    if not children:
        return {path: parser}
    return {k: v for name, p in children.items() for k, v in _leaves(p, (*path, name)).items()}


LEAVES = _leaves()


def test_every_command_module_registers_a_subparser_with_one_protocol():
    names = {m.__name__.rsplit(".", 1)[-1] for m in COMMANDS}
    assert set(_subparsers(build_parser())) == names
    for module in COMMANDS:
        assert module.__name__.startswith("rnnkit.commands.") and module.__doc__
        assert callable(module.add_parser) and not hasattr(module, "register")


def test_cli_imports_its_commands_plainly():
    source = inspect.getsource(rnnkit.cli)
    assert "importlib" not in source and "import_module" not in source


def test_the_command_line_uses_only_the_public_names_of_rnnkit_train():
    import ast
    from pathlib import Path

    files = [Path(rnnkit.cli.__file__), *Path(rnnkit.cli.__file__).parent.glob("commands/*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = (node.module or "").removeprefix("rnnkit.")
                assert not module.startswith("train."), f"{path.name} imports {node.module}"


@pytest.mark.parametrize("words", sorted(LEAVES), ids=" ".join)
def test_help_is_plain_text_and_shows_every_default(words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*words, "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "``" not in out
    options = re.split(r"\n  (?=-)", out.split("options:", 1)[1])[1:]
    assert options  # every command has flags
    for block in options:
        flag = block.split()[0]
        if flag in ("-h,", "--checkpoint") or "default" in block or "(required)" in block:
            continue  # a flag has a default, or says it is required
        pytest.fail(f"{' '.join(words)} {flag} shows no default: {block!r}")


def test_each_synth_task_has_its_own_help(capsys):
    helps = {}
    for words in (["synth"], ["synth", "adding"], ["synth", "copy"]):
        with pytest.raises(SystemExit):
            main([*words, "--help"])
        helps[" ".join(words)] = " ".join(capsys.readouterr().out.split())
    assert len(set(helps.values())) == 3
    assert "the gap" in helps["synth copy"] and "the gap" not in helps["synth adding"]


def test_diagnose_T_is_the_adding_problems_length(capsys):
    with pytest.raises(SystemExit):
        main(["diagnose", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "copy" not in out and "sequence length of the adding problem" in out
    assert "--backend" not in out


@pytest.mark.parametrize("recipe", ["textgen", "classify", "forecast"])
def test_steps_with_epochs_exits_2_in_one_line_before_any_work(recipe, monkeypatch, capsys):
    module = __import__(f"rnnkit.tasks.{recipe}", fromlist=["train"])

    def no_work(*args, **kwargs):
        raise AssertionError("the recipe ran: data would be loaded before the flags were checked")

    monkeypatch.setattr(module, "train", no_work)
    assert main([recipe, "train", "--steps", "5", "--epochs", "1"]) == 2
    out, err = capsys.readouterr()
    assert err == "rnnkit: error: give --steps or --epochs, not both\n" and out == ""


def test_a_text_file_as_checkpoint_is_one_line_without_a_stray_number(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("just a text file\n")  # pickle would read "ust " as a memo key: 544502645
    assert main(["textgen", "sample", "--checkpoint", str(text)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a readable rnnkit checkpoint" in err
    assert not re.search(r"\d\s*$", err), err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and rnnkit.__version__ in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["textgen"], ["textgen", "train", "--hiden", "3"], ["nope"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and "usage:" in capsys.readouterr().err


def test_train_help_lists_flags_from_the_configs(capsys):
    with pytest.raises(SystemExit):
        main(["textgen", "train", "--help"])
    out = capsys.readouterr().out
    for flag in ("--seq-len", "--vocab-size", "--clip-norm", "--resume", "--optimizer", "--seed"):
        assert flag in out


def test_train_then_sample_as_a_new_user_would(tmp_path):
    (tmp_path / "plays.txt").write_text(load_shakespeare()[:30000], encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    train = [*_rnnkit(), "textgen", "train", "--data", "plays.txt", "--steps", "50"]
    train += ["--hidden", "32", "--embed", "16", "--batch-size", "8", "--seq-len", "32"]
    train += ["--backend", "reference"]  # no wait on the native engine's C++ build
    done = subprocess.run(train, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "val_loss" in done.stdout and "val_bits_per_char" in done.stdout
    run_dir = tmp_path / "runs" / "textgen"
    assert (run_dir / "curves.png").exists() and (run_dir / "best.pt").exists()
    sample = [*_rnnkit(), "textgen", "sample", "--checkpoint", str(run_dir), "--prompt", "KING"]
    sample += ["--length", "80", "--seed", "0", "--top-k", "10", "--top-p", "0.95"]
    sample += ["--backend", "reference"]
    got = subprocess.run(sample, env=env, capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith("KING") and len(got.stdout) >= 80


@pytest.mark.parametrize(
    "argv",
    [
        ["classify", "predict", "--checkpoint", "x", "--text", "hi"],
        ["forecast", "predict", "--checkpoint", "x"],
        ["textgen", "sample", "--checkpoint", "x"],
    ],
    ids=["classify", "forecast", "textgen"],
)
def test_predict_commands_refuse_an_unknown_backend_before_any_work(argv, capsys):
    backend = rnnkit.get_backend()
    assert main([*argv, "--backend", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "--backend must be one of auto, native, fused, reference; got bogus" in err
    assert rnnkit.get_backend() == backend  # nothing was set
