"""Applications built on rnnkit's layers and the generic trainer (``rnnkit.train``).

Each task is a subpackage with its config, model, ``Task`` for the trainer, and a ``cli``
module whose ``register(subparsers)`` adds its command to ``rnnkit``: ``textgen`` today.
"""
