"""Run folders: where a recipe's run writes, chosen before anything is written.

Without ``--out`` every run gets a fresh folder of its own: ``runs/<recipe>`` the first time,
then ``runs/<recipe>-2``, ``runs/<recipe>-3``, ... (one more than the highest number there). The
folder is claimed with an atomic ``mkdir``, so two runs started at once never share one, and
given back (removed while still empty) when the run fails before training starts.
``--resume`` without ``--out`` continues the latest run of the recipe: the highest-numbered
folder that holds a ``last.pt``. An explicit ``--out`` that holds another run is refused unless
``--resume`` continues it.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, RnnkitError
from .checkpoint import load_checkpoint
from .config import TrainConfig
from .distributed import DistEnv
from .trainer import LAST

__all__ = ["RUNS", "RunDir", "claim_fresh", "latest_run", "open_run", "release", "resumable"]

RUNS = Path("runs")  # where the default folders of every recipe go, relative to the cwd


class RunDir:
    """The folder of one run: ``path``, the checkpoint to resume (or None), and whether this
    process created it as a fresh default folder (then ``release`` may remove it)."""

    def __init__(self, path: Path, resume: dict[str, Any] | None, fresh: bool) -> None:
        self.path, self.resume, self.fresh = path, resume, fresh

    def headline(self, name: str) -> str:
        """The first line a run prints: which folder, and whether it is new or resumed."""
        if self.resume is not None:
            return f"{name}: resuming {self.path} from step {self.resume.get('step')}"
        how = " (a fresh folder; --out names one)" if self.fresh else ""
        return f"{name}: new run in {self.path}{how}"


def _numbered(base: Path) -> dict[int, Path]:
    """The existing folders ``base`` (number 1) and ``base-N`` by their number."""
    found = {1: base} if base.is_dir() else {}
    if base.parent.is_dir():
        pattern = re.compile(re.escape(base.name) + r"-([0-9]+)")
        for p in base.parent.iterdir():
            match = pattern.fullmatch(p.name)
            if match and p.is_dir() and int(match.group(1)) >= 2:
                found[int(match.group(1))] = p
    return found


def latest_run(base: str | Path) -> Path | None:
    """The highest-numbered of ``base``, ``base-2``, ... that holds a run (``last.pt``)."""
    runs = _numbered(Path(base))
    held = [n for n, p in runs.items() if (p / LAST).is_file()]
    return runs[max(held)] if held else None


def claim_fresh(base: str | Path) -> Path:
    """Create and return the next free folder: ``base``, else ``base-N`` with N one more than
    the highest number there (so the newest run always has the highest number)."""
    base = Path(base)
    n = max(_numbered(base), default=0) + 1
    while True:
        path = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:  # another run took it a moment ago
            n += 1


def release(path: Path) -> None:
    """Remove a claimed folder if nothing was written into it."""
    with contextlib.suppress(OSError):  # not empty (or gone): keep what is there
        path.rmdir()


def resumable(out: str | Path, resume: bool) -> dict[str, Any] | None:
    """The checkpoint of ``out`` to continue (``resume``) or None for a new run there;
    refuses to overwrite a run ``out`` already holds."""
    last = Path(out) / LAST
    if resume:
        if not last.exists():
            raise CheckpointError(f"--resume: there is no {LAST} in {out} to continue")
        return load_checkpoint(last)
    if last.exists():
        raise RnnkitError(
            f"{out} already holds a run ({LAST}); pass --resume to continue it or choose "
            "another --out (without --out every run gets a fresh folder)"
        )
    return None


def _chosen(tcfg: TrainConfig, name: str, env: DistEnv) -> tuple[Path, bool]:
    """(the run's folder, whether it was claimed fresh here), the same on every rank."""
    if tcfg.out is not None:
        return Path(tcfg.out), False
    base = RUNS / name
    if tcfg.resume:
        latest = latest_run(base)
        if latest is None:
            raise CheckpointError(
                f"--resume without --out continues the latest run in {base}[-N]; none there "
                f"holds a {LAST}: give --out"
            )
        return latest, False
    claimed: str | None = None
    if env.is_main:
        try:
            claimed = str(claim_fresh(base))
        except OSError as exc:
            claimed = f"error: cannot create a folder under {base.parent}: {exc.strerror}"
    first = env.all_gather(claimed)[0]  # rank 0 chooses, every rank writes there
    if first.startswith("error: "):
        raise RnnkitError(first.removeprefix("error: "))
    return Path(first), env.is_main


def open_run(tcfg: TrainConfig, name: str, env: DistEnv | None = None) -> RunDir:
    """The folder of a run of the recipe ``name`` as ``--out`` and ``--resume`` say (see the
    module docstring), with the checkpoint to resume."""
    env = env or DistEnv()
    path, fresh = _chosen(tcfg, name, env)
    return RunDir(path, resumable(path, tcfg.resume), fresh)  # a fresh folder never resumes
