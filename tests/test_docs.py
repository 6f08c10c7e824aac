"""README.md and docs/*.md: every Python code block runs as written, so the docs cannot drift.

The blocks of one file run in order in one namespace (a later block may use an earlier one's
names), in a fresh working directory, after ``import rnnkit`` only. A block that needs files of
its own or trains for long says so with a line ``# doctest: skip`` and is not run (only its
syntax is checked).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP = "# doctest: skip"


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """(line number, code) of every ```python block of ``page``."""
    text = page.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start()) + 2, m.group(1))
        for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    ]


def test_the_docs_have_python_blocks_and_the_readme_has_no_skipped_one():
    blocks = {page.name: python_blocks(page) for page in PAGES}
    assert blocks["README.md"] and all(SKIP not in code for _, code in blocks["README.md"])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_run_as_written(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    namespace: dict = {"__name__": "__docs__"}
    try:
        for line, code in python_blocks(page):
            compiled = compile("\n" * (line - 1) + code, str(page), "exec")
            if SKIP not in code:
                exec(compiled, namespace)
    finally:
        torch.set_num_threads(threads)
