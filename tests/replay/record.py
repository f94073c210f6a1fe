"""Record the histories the replay suite guards: `python -m tests.replay.record`.

Every financing the workflow tests start (tests/workflow/test_financing.py, test_messages.py
and test_preapproved.py: every path — happy, refused, rejected, expired, lock refused and expired,
withdrawn, cancelled, partial payments, overdue → settled, written off + recovery, misdirected
+ acknowledged, early and late messages, approved at an accepted offer's terms) leaves its
history in tests/replay/histories.

Record them *before* a change to the workflow, with the code that runs in production, and keep
them: a history the old code wrote is what a non-deterministic change would break (see
docs/versioning.md for the policy)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HISTORIES = Path(__file__).parent / "histories"
RECORDED_BY = [
    "tests/workflow/test_financing.py",
    "tests/workflow/test_messages.py",
    "tests/workflow/test_preapproved.py",
]


def record() -> int:
    env = dict(os.environ, ZCD_RECORD_HISTORIES=str(HISTORIES))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", *RECORDED_BY], env=env, check=False)
    print(f"{len(list(HISTORIES.glob('*.json')))} histories in {HISTORIES}")
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(record())
