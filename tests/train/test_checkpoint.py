"""Checkpoint files: atomic writes, weights_only loading, one clear error for a bad file."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from rnnkit.train import CheckpointError, load_checkpoint, rng_state, save_checkpoint, set_rng_state


def _payload() -> dict:
    return {"step": 3, "model": {"w": torch.randn(4, 5)}, "config": {"a": 1, "b": [1.5, None]}}


def test_save_then_load_gives_back_the_payload(tmp_path):
    payload = _payload()
    save_checkpoint(tmp_path / "last.pt", payload)
    got = load_checkpoint(tmp_path / "last.pt")
    assert got["step"] == 3 and got["config"] == payload["config"]
    assert torch.equal(got["model"]["w"], payload["model"]["w"])
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left


def test_save_replaces_an_existing_file_whole(tmp_path):
    save_checkpoint(tmp_path / "last.pt", _payload())
    save_checkpoint(tmp_path / "last.pt", {**_payload(), "step": 9})
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 9


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "nope.pt")


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.9])
def test_truncated_checkpoint_is_a_clear_error(tmp_path, keep):
    path = tmp_path / "last.pt"
    save_checkpoint(path, _payload())
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(CheckpointError, match="not a readable rnnkit checkpoint"):
        load_checkpoint(path)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="not a readable rnnkit checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("text", ["just a text file\n", "hello world\n", "ROMEO. Hi\n"])
def test_a_text_file_is_refused_in_words_without_pickle_details(tmp_path, text):
    path = tmp_path / "notes.txt"
    path.write_text(text)  # "just" would make pickle report the memo key 544502645
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(info.value).endswith("not the zip archive that torch.save writes")


def test_foreign_torch_file_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    with pytest.raises(CheckpointError, match="not an rnnkit checkpoint"):
        load_checkpoint(path)


def test_pickled_objects_are_refused_by_weights_only(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "rnnkit-checkpoint", "version": 1, "obj": random.Random()}, path)
    with pytest.raises(CheckpointError, match="not a readable rnnkit checkpoint.*pickled objects"):
        load_checkpoint(path)


def test_rng_state_round_trips_torch_numpy_and_python(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    save_checkpoint(tmp_path / "r.pt", {"step": 0, "model": {}, "config": {}, "rng": rng_state()})
    expected = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"])
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0])
    assert np.array_equal(got[1], expected[1]) and got[2] == expected[2]
