"""Applications built on rnnkit's layers and the generic trainer (``rnnkit.train``).

Each recipe is a subpackage (``textgen``, ``classify``, ``forecast``, ``translate``, ``tag``,
``speech``) with its config, model,
``Task`` for the trainer and a ``train(...)`` function, callable from Python with no argparse in
sight; ``synthetic`` holds the long-range toy tasks. Their command lines live in
``rnnkit.commands``.
"""

import importlib as _importlib

_LAZY = (
    "classify",
    "forecast",
    "speech",
    "synthetic",
    "tag",
    "textgen",
    "translate",
)  # imported on first attribute access


def __getattr__(name: str):
    if name in _LAZY:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
