"""`zcd demo` against the platform as `make run` starts it: ten financings of every kind,
the reconciliation agrees, each bank's book from its event feed agrees with /v1/stats, and
Ctrl-C then stops everything the stack started."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.local_stack import LocalStack

pytestmark = pytest.mark.e2e


def stage_count(output: str, stage: str) -> int:
    """The count on the stage table's row for `stage` (0 when the row is absent)."""
    match = re.search(rf"│ {stage}\s+│\s+(\d+) │", output)
    return int(match.group(1)) if match else 0


def test_demo_drives_ten_financings_and_reconciles() -> None:
    stack = LocalStack.in_temporary_directory()
    try:
        dev = stack.start()
        demo = stack.zcd("demo", "--count", "10", timeout=300)
        output = demo.stdout + demo.stderr
        assert demo.returncode == 0, output
        assert "reconciliation: agrees" in output, output
        # each bank's book, built by the bank simulator from its event feed alone, equals /v1/stats
        assert "banks' books agree" in output, output
        assert stage_count(output, "settled") >= 1, output
        assert stage_count(output, "bank_review") >= 1, output
        assert stage_count(output, "repaying") >= 1, output
        assert sum(stage_count(output, s) for s in ("rejected", "failed", "withdrawn")) >= 3, output
        # ops have something to find at once: the payment into a wrong account is stuck
        stuck = re.search(r"GET /v1/ops/stuck lists (\d+) processes", output)
        assert stuck is not None and int(stuck.group(1)) >= 1, output
        # the bureau's dashboard has something in every chart, from the demo's loans alone
        ops = {"Authorization": f"Bearer {dev['credentials']['ops']}"}
        page = httpx.get(f"{dev['api']}/bureau/", headers=ops, timeout=30)
        assert page.status_code == 200, page.text
        for chart in ("monthly", "funnel", "by-bank", "by-district", "days"):
            section = re.search(rf'<section id="{chart}">(.*?)</section>', page.text, re.S)
            assert section is not None and "<svg" in section.group(1), chart
            assert "data-empty" not in section.group(1), f"the {chart} chart has nothing to show"
        assert "待人工处理" in page.text and "/workflows/financing-" in page.text  # the misdirected one, linked

        assert stack.interrupt() == 0, stack.output()
        assert stack.left_running() == {}
    finally:
        stack.remove()


def test_demo_without_a_running_platform_says_how_to_start_one() -> None:
    stack = LocalStack.in_temporary_directory()
    try:
        demo = stack.zcd("demo", "--count", "1", timeout=60)
        assert demo.returncode == 1
        assert "make run" in demo.stdout + demo.stderr
    finally:
        stack.remove()
