"""Shared fixtures live in tests/fixtures/, one module per service the tests need."""

import os

from simulators.state import CHECK_SETTING

# Every journaled save of a simulator's state is checked against the whole state: a change a
# simulator saved without naming it fails the request (simulators/state.py).
os.environ.setdefault(CHECK_SETTING, "1")

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.simulators",
    "tests.fixtures.temporal",
]
