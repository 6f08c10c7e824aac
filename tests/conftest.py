"""Suite-wide settings: the engine's measured plan is off (fixed defaults), so every test sees
the same path choices on any machine, nothing is timed, and nothing is written to the user's
cache; tests/engine/test_autotune.py turns it on where it tests it."""

import os

os.environ["RNNKIT_AUTOTUNE"] = "0"
