"""User text files, read the one way every recipe reads them.

``read_text_file`` returns the text of a file a user named on the command line (or passed from
Python), or raises the one-line ``RnnkitError`` the recipes share: the file is missing or not a
regular file, a compressed file does not decompress, it is binary (a NUL byte in its first
64 KiB), the encoding is unknown, or a byte does not decode (its line, its value, and how to
pass another encoding where the recipe has an ``--encoding`` flag). A leading byte-order mark
is dropped; line endings are left to the caller.
"""

from __future__ import annotations

import codecs
import gzip
import lzma
import os
from pathlib import Path

from ..errors import RnnkitError

__all__ = ["read_text_file", "read_text_lines"]

_DECOMPRESS = {".xz": (lzma.decompress, lzma.LZMAError), ".gz": (gzip.decompress, OSError)}


def read_text_file(
    path: str | os.PathLike,
    flag: str,
    encoding: str = "utf-8",
    *,
    what: str = "text",
    encoding_flag: bool = False,
    compressed: bool = False,
) -> str:
    """The text of ``path`` decoded from ``encoding``.

    Errors name ``flag`` (the option that gave the path, e.g. ``--data``) and the path;
    ``what`` says what the file should hold ("tagged text"); ``encoding_flag``: the recipe
    takes ``--encoding`` (the error for a byte that does not decode suggests it);
    ``compressed``: a ``.xz`` / ``.gz`` file is decompressed first.
    """
    p = Path(path)
    name = f"{flag} {path}"
    if not p.exists():
        raise RnnkitError(f"{name}: no such file")
    if not p.is_file():
        raise RnnkitError(f"{name}: not a regular file")
    try:
        utf8 = codecs.lookup(encoding).name.startswith("utf-8")
    except LookupError:
        raise RnnkitError(f"--encoding {encoding}: unknown text encoding") from None
    raw = p.read_bytes()
    if compressed and p.suffix in _DECOMPRESS:
        decompress, error = _DECOMPRESS[p.suffix]
        try:
            raw = decompress(raw)
        except (error, EOFError):
            raise RnnkitError(f"{name}: not a valid {p.suffix} file") from None
    if utf8 and b"\x00" in raw[:65536]:
        raise RnnkitError(f"{name} is a binary file, not {what}")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        shown = "UTF-8" if utf8 else encoding
        line = raw[: exc.start].count(b"\n") + 1
        hint = "; pass its encoding, e.g. --encoding latin-1" if encoding_flag else ""
        raise RnnkitError(
            f"{name} is not valid {shown} {what}: line {line} has byte 0x{raw[exc.start]:02x}{hint}"
        ) from None
    return text.removeprefix("\ufeff")


def read_text_lines(path: str | os.PathLike, flag: str, what: str = "texts") -> list[str]:
    """The non-blank lines of the UTF-8 text file ``path`` (one text each, as they are);
    ``RnnkitError`` as ``read_text_file``, and where no line holds anything."""
    lines = [line for line in read_text_file(path, flag).splitlines() if line.strip()]
    if not lines:
        raise RnnkitError(f"{flag} {path}: no {what} in the file")
    return lines
