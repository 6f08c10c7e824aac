"""Run folders: a fresh one per run by default, the latest for --resume, refusals."""

from __future__ import annotations

import dataclasses

import pytest

from rnnkit.train import LAST, CheckpointError, RnnkitError, TrainConfig, save_checkpoint
from rnnkit.train.runs import RUNS, claim_fresh, latest_run, open_run, release


def _hold_a_run(path):
    save_checkpoint(path / LAST, {"step": 3, "model": {}, "config": {"task": "demo"}})


def test_fresh_folders_count_up_from_the_plain_name(tmp_path):
    base = tmp_path / "runs" / "demo"
    assert claim_fresh(base) == base
    assert claim_fresh(base) == tmp_path / "runs" / "demo-2"
    assert claim_fresh(base) == tmp_path / "runs" / "demo-3"
    (tmp_path / "runs" / "demo-2").rmdir()
    assert claim_fresh(base) == tmp_path / "runs" / "demo-4"  # the newest has the highest N
    (tmp_path / "runs" / "demo-10x").mkdir()  # not one of ours
    (tmp_path / "runs" / "demos").mkdir()
    assert claim_fresh(base) == tmp_path / "runs" / "demo-5"


def test_latest_run_is_the_highest_numbered_folder_holding_a_checkpoint(tmp_path):
    base = tmp_path / "demo"
    assert latest_run(base) is None
    for _ in range(3):
        claim_fresh(base)
    assert latest_run(base) is None  # folders without last.pt hold no run
    _hold_a_run(base)
    _hold_a_run(tmp_path / "demo-2")
    assert latest_run(base) == tmp_path / "demo-2"


def test_release_removes_only_an_empty_folder(tmp_path):
    empty, used = claim_fresh(tmp_path / "a"), claim_fresh(tmp_path / "b")
    (used / "metrics.jsonl").write_text("{}\n")
    release(empty)
    release(used)
    assert not empty.exists() and used.exists()


def test_default_runs_get_fresh_folders_and_resume_takes_the_latest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tcfg = TrainConfig(out=None)
    first = open_run(tcfg, "demo")
    assert first.path == RUNS / "demo" and first.fresh and first.resume is None
    assert "new run in runs/demo" in first.headline("demo")
    _hold_a_run(first.path)
    second = open_run(tcfg, "demo")
    assert second.path == RUNS / "demo-2"
    with pytest.raises(CheckpointError, match="none there holds a last.pt: give --out"):
        open_run(dataclasses.replace(tcfg, resume=True), "other")
    resumed = open_run(dataclasses.replace(tcfg, resume=True), "demo")
    assert resumed.path == RUNS / "demo" and resumed.resume["step"] == 3 and not resumed.fresh
    assert resumed.headline("demo") == "demo: resuming runs/demo from step 3"


def test_an_explicit_out_holding_a_run_is_refused_in_one_line(tmp_path):
    _hold_a_run(tmp_path)
    with pytest.raises(RnnkitError, match="already holds a run") as err:
        open_run(TrainConfig(out=str(tmp_path)), "demo")
    assert "\n" not in str(err.value) and "--resume" in str(err.value)
    assert open_run(TrainConfig(out=str(tmp_path), resume=True), "demo").resume["step"] == 3
