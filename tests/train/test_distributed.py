"""Two processes under torchrun (gloo, CPU) train to the weights of one, same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist

from rnnkit.train import LAST, load_checkpoint

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")


def _train_args(corpus, out) -> list[str]:
    return [
        *("-m", "rnnkit", "textgen", "train", "--data", str(corpus)),
        *("--hidden", "24", "--embed", "8", "--seq-len", "16", "--batch-size", "4"),
        *("--steps", "12", "--save-every", "6", "--eval-every", "6", "--eval-tokens", "200"),
        *("--lr", "0.01", "--threads", "1", "--device", "cpu", "--backend", "reference"),
        *("--no-plot", "--no-progress", "--out", str(out)),
    ]


def test_two_processes_end_with_the_weights_of_one(tmp_path, tiny_corpus):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, *_train_args(tiny_corpus, tmp_path / "one")], check=True, env=env
    )
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    subprocess.run([*torchrun, *_train_args(tiny_corpus, tmp_path / "two")], check=True, env=env)
    one = load_checkpoint(tmp_path / "one" / LAST)
    two = load_checkpoint(tmp_path / "two" / LAST)
    assert one["world_size"] == 1 and two["world_size"] == 2 and two["step"] == 12
    for name, value in one["model"].items():
        err = (two["model"][name] - value).abs().max().item()
        assert err <= 1e-6, f"{name}: max difference {err:.3g}"
    assert abs(one["last_eval"]["loss"] - two["last_eval"]["loss"]) <= 1e-5
    carries = [r["carry"][0] for r in two["ranks"]]  # (layers, B/2, H) h of each rank's rows
    assert torch.allclose(torch.cat(carries, dim=1), one["ranks"][0]["carry"][0], atol=1e-5)
