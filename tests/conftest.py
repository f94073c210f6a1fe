"""Shared fixtures live in tests/fixtures/, one module per service the tests need."""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.simulators",
    "tests.fixtures.temporal",
]
