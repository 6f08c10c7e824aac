"""``import rnnkit``: light, and every documented name reachable from it as written."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rnnkit


def _fresh(code: str) -> str:
    """stdout of ``code`` run in a new interpreter (nothing imported beforehand)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_rnnkit_leaves_the_heavy_modules_and_the_recipes_unimported():
    loaded = _fresh(
        "import sys, rnnkit; print(sorted(m for m in ('matplotlib', 'statsmodels', 'pandas', "
        "'rnnkit.tasks', 'rnnkit.train', 'rnnkit.data', 'rnnkit.cli') if m in sys.modules))"
    )
    assert loaded == "[]"


def test_documented_names_are_reachable_after_import_rnnkit_alone():
    code = (
        "import rnnkit; "
        "print(rnnkit.tasks.classify.load_classifier.__name__, "
        "rnnkit.data.load_dataset.__name__, rnnkit.diagnostics.gradient_flow.__name__, "
        "rnnkit.train.Trainer.__name__, rnnkit.errors.RnnkitError.__name__, "
        "rnnkit.tasks.forecast.predict.__name__, rnnkit.tasks.textgen.sample.__name__)"
    )
    assert _fresh(code).split() == [
        "load_classifier",
        "load_dataset",
        "gradient_flow",
        "Trainer",
        "RnnkitError",
        "predict",
        "sample",
    ]


def test_an_unknown_attribute_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        rnnkit.nope  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        rnnkit.tasks.nope  # noqa: B018
    assert {"data", "tasks", "train"} <= set(dir(rnnkit))
