"""Checkpoints: written atomically, read with ``weights_only=True``, checked before use.

A checkpoint is one ``torch.save`` file holding a dict of tensors and plain values only (no
pickled classes), so ``torch.load(weights_only=True)`` reads it. ``save_checkpoint`` writes a
temporary file in the same directory, fsyncs it and ``os.replace``-s it over the target: a
process killed at any moment leaves either the old file or the new one, never half of one.
``load_checkpoint`` turns every failure (missing, truncated, corrupt, foreign) into one
:class:`CheckpointError` line.

RNG states (torch, CUDA, numpy, python ``random``) are captured as tensors and ints by
``rng_state`` and put back by ``set_rng_state``.
"""

from __future__ import annotations

import os
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError

__all__ = [
    "FORMAT",
    "VERSION",
    "load_checkpoint",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
]

FORMAT = "rnnkit-checkpoint"  # the "format" entry every rnnkit checkpoint carries
VERSION = 1  # bumped when the layout of the dict changes incompatibly
_REQUIRED = ("step", "model", "config")


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plus format and version) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, "version": VERSION, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check an rnnkit checkpoint; :class:`CheckpointError` with one line if it is bad."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip, pickle and unpickler-allowlist errors alike
        raise CheckpointError(
            f"{path} is not a readable rnnkit checkpoint (corrupt, truncated or written by "
            f"another program): {_unreadable(path, exc)}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a torch file but not an rnnkit checkpoint")
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"{path} is an rnnkit checkpoint of version {payload.get('version')}; "
            f"this rnnkit reads version {VERSION}"
        )
    missing = [key for key in _REQUIRED if key not in payload]
    if missing:
        raise CheckpointError(f"{path} is an incomplete rnnkit checkpoint: no {', '.join(missing)}")
    return payload


def _unreadable(path: Path, exc: Exception) -> str:
    """Why ``torch.load`` could not read ``path``, in words (never a bare pickle detail)."""
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; text, pickles do not
        return "not the zip archive that torch.save writes"
    if isinstance(exc, pickle.UnpicklingError):
        return "it holds pickled objects, which rnnkit never saves and does not load"
    reason = (str(exc).strip().splitlines() or [""])[0][:160]
    return reason if reason and not reason.isdigit() else type(exc).__name__


def rng_state() -> dict[str, Any]:
    """Every RNG state this process uses, as tensors and plain values (weights_only safe)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Put back what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
