"""``python -m rnnkit ...``: the same as the ``rnnkit`` command (see ``rnnkit.cli``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
