"""synth and diagnose: one-line errors with exit code 2, wiring into a parent parser, tiny runs."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from rnnkit.commands import diagnose, synth


@pytest.fixture(autouse=True)
def _keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


BAD = [
    (synth, ["adding", "--cell", "lstmm"], "unknown cell 'lstmm'"),
    (synth, ["adding", "--T", "1"], "T to be an int >= 2"),
    (synth, ["copy", "--steps", "0"], "steps > 0"),
    (synth, ["copy", "--steps", "-3"], "steps > 0"),
    (diagnose, ["--cells", "rnn,foo"], "unknown cell 'foo'"),
    (diagnose, ["--T", "1"], "T to be an int >= 2"),
    (diagnose, ["--train-steps", "-1"], "--train-steps >= 0"),
]


@pytest.mark.parametrize(("command", "argv", "message"), BAD)
def test_bad_input_is_one_line_on_stderr_and_exit_code_2(command, argv, message, capsys):
    assert command.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert err.startswith("rnnkit: error: ")


def test_an_unknown_task_is_a_usage_error_naming_the_tasks(capsys):
    with pytest.raises(SystemExit) as exit_info:
        synth.main(["addition"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "invalid choice: 'addition'" in err and "copy" in err


def test_add_parser_wires_both_subcommands_into_a_parent_parser():
    parser = argparse.ArgumentParser(prog="rnnkit")
    subparsers = parser.add_subparsers(dest="command", required=True)
    synth.add_parser(subparsers)
    diagnose.add_parser(subparsers)
    args = parser.parse_args(["synth", "copy", "--cell", "gru", "--batch-size", "8"])
    assert args.func is synth.run and args.task == "copy" and args.batch_size == 8
    args = parser.parse_args(["diagnose", "--cells", "rnn,lstm", "--T", "50"])
    assert args.func is diagnose.run and args.T == 50


def test_synth_writes_its_json(tmp_path, capsys):
    argv = ["adding", "--cell", "gru", "--T", "4", "--steps", "3", "--eval-every", "1"]
    assert synth.main([*argv, "--hidden", "4", "--batch-size", "4", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "synth_adding_gru_T4_seed0.json").read_text())
    assert result["steps_run"] == 3 and len(result["history"]) == 3
    assert "adding gru T=4" in capsys.readouterr().out


def test_diagnose_writes_plot_and_json_and_prints_ratios(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    argv = ["--cells", "rnn,lstm", "--T", "5", "--train-steps", "2", "--hidden", "4"]
    assert diagnose.main([*argv, "--batch-size", "4", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "gradient_flow.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "gradient_flow.json").read_text())
    assert set(saved["cells"]) == {"rnn", "lstm"}
    assert len(saved["cells"]["lstm"]["gradient_flow"]["layers"][0]["grad_norm"]) == 5
    out = capsys.readouterr().out
    assert "ratio" in out and out.count("\n") == 4  # header, two cells, "wrote"
