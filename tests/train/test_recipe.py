"""The recipe plumbing: resume checks and refusing another task's checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.train import CheckpointError, RnnkitError, TrainConfig, save_checkpoint
from rnnkit.train.recipe import (
    check_same_run,
    check_train_options,
    load_task_checkpoint,
    prepare_out,
    run_config,
)


def _payload(config):
    return {"step": 0, "model": {}, "config": config}


def _config(**changes):
    return run_config("demo", TrainConfig(**changes), TrainConfig(), "abc")


def test_run_config_drops_resumable_options():
    config = run_config("demo", TrainConfig(), TrainConfig(steps=5, out="x"), "abc")
    assert config["task"] == "demo" and config["data_sha256"] == "abc"
    assert "steps" not in config["train"] and "out" not in config["train"]
    assert config["train"]["lr"] == TrainConfig().lr


def test_check_same_run_names_each_difference():
    check_same_run(_config(), _config(), Path("last.pt"))
    with pytest.raises(CheckpointError, match=r"--lr 0.002 \(now 0.1\)"):
        check_same_run(_config(), _config(lr=0.1), Path("last.pt"))
    other = run_config("other", TrainConfig(), TrainConfig(), "abc")
    with pytest.raises(CheckpointError, match="not a demo run .*a other checkpoint"):
        check_same_run(other, _config(), Path("last.pt"))
    changed = run_config("demo", TrainConfig(), TrainConfig(), "xyz")
    with pytest.raises(CheckpointError, match="other data"):
        check_same_run(changed, _config(), Path("last.pt"))


def test_prepare_out_refuses_to_overwrite(tmp_path):
    assert prepare_out(TrainConfig(out=str(tmp_path))) is None
    with pytest.raises(CheckpointError, match="no last.pt"):
        prepare_out(TrainConfig(out=str(tmp_path), resume=True))
    save_checkpoint(tmp_path / "last.pt", _payload(_config()))
    with pytest.raises(RnnkitError, match="already holds a run"):
        prepare_out(TrainConfig(out=str(tmp_path)))
    assert prepare_out(TrainConfig(out=str(tmp_path), resume=True))["config"]["task"] == "demo"


def test_load_task_checkpoint_refuses_another_task(tmp_path):
    save_checkpoint(tmp_path / "last.pt", _payload(_config()))
    ckpt, path = load_task_checkpoint(tmp_path, "demo")
    assert path == tmp_path / "last.pt" and ckpt["config"]["task"] == "demo"
    save_checkpoint(
        tmp_path / "best.pt", _payload(run_config("other", TrainConfig(), TrainConfig(), ""))
    )
    with pytest.raises(
        CheckpointError, match=r"best.pt is not a demo checkpoint \(it has an? other"
    ):
        load_task_checkpoint(tmp_path, "demo")
    save_checkpoint(tmp_path / "plain.pt", {"step": 0, "model": {}, "config": {}})
    with pytest.raises(CheckpointError, match="no rnnkit task recorded"):
        load_task_checkpoint(tmp_path / "plain.pt", "demo")


@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_check_train_options_refuses_an_ema_decay_outside_0_1(value):
    with pytest.raises(RnnkitError, match=rf"--ema must be in \[0, 1\) \(0 = off\); got {value}"):
        check_train_options(TrainConfig(ema=value))
