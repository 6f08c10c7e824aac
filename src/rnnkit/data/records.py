"""Rows of user data files that recipes share: JSON Lines objects, and fields as text.

``jsonl_objects`` yields (line number, object) for every non-blank line of a JSON Lines text,
with the one-line errors every recipe gives (a line that is not JSON, or not an object);
``json_text`` turns a field into text the way the recipes read it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from ..errors import RnnkitError

__all__ = ["json_text", "jsonl_objects"]


def jsonl_objects(content: str, name: str, like: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each non-blank line of ``content``; RnnkitError naming file
    ``name`` and the line where one is not JSON or not an object (``like`` shows one)."""
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RnnkitError(f"{name}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise RnnkitError(
                f"{name}: line {number} is a JSON {type(record).__name__}; expected an "
                f"object like {like}"
            )
        yield number, record


def json_text(value: object) -> str:
    """A JSON field as text: strings as they are, null as empty, numbers and bools as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)
