"""argv builders shared by the textgen tests (a module, since conftest names collide)."""

from __future__ import annotations

TINY = ("--hidden", "16", "--embed", "8", "--seq-len", "16", "--batch-size", "4")
# the reference backend: plain autograd, no C++ build, so these tests never wait on a compiler
QUIET = ("--eval-tokens", "200", "--no-plot", "--no-progress", "--threads", "1", "--backend")
QUIET = (*QUIET, "reference")


def train_args(corpus, out, *extra) -> list[str]:
    """argv of a tiny, quick ``textgen train`` run."""
    return ["textgen", "train", "--data", str(corpus), *TINY, *QUIET, "--out", str(out), *extra]
