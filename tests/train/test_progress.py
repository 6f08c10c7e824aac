"""The progress bar on a real terminal: loss, tokens/s and ETA, with log lines above it."""

from __future__ import annotations

import os
import re
import struct
import sys

import pytest

from rnnkit.data import load_shakespeare

pty = pytest.importorskip("pty")


def _run_in_terminal(argv: list[str]) -> str:
    """Everything ``argv`` writes to a 120-column pseudo-terminal."""
    import fcntl
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # child: a terminal of a real size, then the command
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.execvp(argv[0], argv)
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return b"".join(chunks).decode("utf-8", errors="replace")


def test_bar_shows_loss_speed_and_eta_and_log_lines_stay_whole(tmp_path):
    corpus = tmp_path / "plays.txt"
    corpus.write_text(load_shakespeare()[:20000], encoding="utf-8")
    argv = [sys.executable, "-m", "rnnkit", "textgen", "train", "--data", str(corpus)]
    argv += ["--hidden", "8", "--embed", "4", "--seq-len", "8", "--batch-size", "2"]
    argv += ["--steps", "20", "--eval-every", "10", "--eval-tokens", "100", "--log-every", "5"]
    argv += ["--threads", "1", "--no-plot", "--backend", "reference", "--out", str(tmp_path / "r")]
    text = _run_in_terminal(argv)
    bars = [s for s in re.split(r"[\r\n]", text) if "step/s" in s]
    assert any(re.search(r"100%\|.*20/20 .*loss=\d.*tok_s=\d+", s) for s in bars), bars[-3:]
    assert any(re.search(r"<\d\d:\d\d", s) for s in bars)  # the ETA
    for n in (10, 20):  # each evaluation line starts a line of its own, not inside the bar
        assert re.search(rf"(^|\n|\r)step {n}: val_loss \d", text), text[-600:]
