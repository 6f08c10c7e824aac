"""A training process killed with SIGKILL and resumed ends with the weights of an unbroken run.

Runs ``python -m rnnkit textgen train`` as a subprocess with a tiny model, kills it at a random
moment after a random checkpointed step, resumes with ``--resume``, and compares bit for bit.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import torch

from rnnkit.train import LAST, load_checkpoint

STEPS = 120
KILL_BY = 60  # the kill comes at a random step up to this, STEPS - KILL_BY steps before the end


def _command(corpus, out, *extra) -> list[str]:
    return [
        *(sys.executable, "-m", "rnnkit", "textgen", "train", "--data", str(corpus)),
        *("--hidden", "24", "--embed", "8", "--seq-len", "16", "--batch-size", "4"),
        *("--steps", str(STEPS), "--save-every", "3", "--eval-every", "25", "--lr", "0.01"),
        *("--eval-tokens", "200", "--threads", "1", "--backend", "reference"),
        *("--no-plot", "--no-progress", "--out", str(out), *extra),
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def test_sigkill_at_a_random_moment_then_resume_matches_unbroken_run(tmp_path, tiny_corpus):
    subprocess.run(_command(tiny_corpus, tmp_path / "full"), check=True, env=_env())
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_command(tiny_corpus, killed), env=_env(), stdout=subprocess.DEVNULL)
    # a random checkpointed step, then a random moment within the next steps: a fixed delay
    # after the first checkpoint could outlast a fast run (it did: 60 steps in 0.3 s)
    kill_step = random.choice(range(3, KILL_BY + 1, 3))
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if (killed / LAST).exists() and load_checkpoint(killed / LAST)["step"] >= kill_step:
            break
        time.sleep(0.005)
    delay = random.uniform(0.0, 0.02)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, f"the run ended before the kill ({delay:.3f} s)"
    stopped_at = load_checkpoint(killed / LAST)["step"]
    assert stopped_at < STEPS, f"killed after {delay:.3f} s, but the checkpoint is the last step"

    subprocess.run(_command(tiny_corpus, killed, "--resume"), check=True, env=_env())
    full = load_checkpoint(tmp_path / "full" / LAST)
    resumed = load_checkpoint(killed / LAST)
    assert resumed["step"] == full["step"] == STEPS
    for name, value in full["model"].items():
        assert torch.equal(resumed["model"][name], value), (
            f"{name} differs (resumed at {stopped_at})"
        )
    for key in ("state", "param_groups"):
        assert str(resumed["optimizer"][key]) == str(full["optimizer"][key])
