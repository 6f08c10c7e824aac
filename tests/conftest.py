"""Suite-wide settings: the engine's measured plan is off (fixed defaults), so every test sees
the same path choices on any machine and nothing is timed; its cache directory is a fresh one,
so no test reads or writes the user's (removed when the run ends).
tests/engine/test_autotune.py turns measuring on where it tests it."""

import atexit
import functools
import os
import shutil
import tempfile

os.environ["RNNKIT_AUTOTUNE"] = "0"
os.environ["RNNKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="rnnkit-test-cache-")
atexit.register(functools.partial(shutil.rmtree, os.environ["RNNKIT_CACHE_DIR"], True))
