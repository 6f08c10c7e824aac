"""The ``rnnkit`` command: help, version, flag typos, and train-then-sample as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import rnnkit
from rnnkit.cli import COMMANDS, build_parser, main
from rnnkit.data import load_shakespeare


def _rnnkit() -> list[str]:
    """The installed ``rnnkit`` script, else ``python -m rnnkit``."""
    script = shutil.which("rnnkit")
    return [script] if script else [sys.executable, "-m", "rnnkit"]


def test_every_command_registers_a_subparser():
    actions = [a for a in build_parser()._actions if a.dest == "command"]
    assert set(actions[0].choices) == set(COMMANDS)


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
