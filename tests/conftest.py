"""Suite-wide settings: the engine's measured plan is off (fixed defaults), so every test sees
the same path choices on any machine and nothing is timed; its cache directory is a fresh one,
so no test reads or writes the user's. tests/engine/test_autotune.py turns measuring on where
it tests it."""

import os
import tempfile

os.environ["RNNKIT_AUTOTUNE"] = "0"
os.environ["RNNKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="rnnkit-test-cache-")
