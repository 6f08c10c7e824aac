"""Applications built on rnnkit's layers and the generic trainer (``rnnkit.train``).

Each recipe is a subpackage (``textgen``, ``classify``, ``forecast``) with its config, model,
``Task`` for the trainer and a ``train(...)`` function, callable from Python with no argparse in
sight; ``synthetic`` holds the long-range toy tasks. Their command lines live in
``rnnkit.commands``.
"""
