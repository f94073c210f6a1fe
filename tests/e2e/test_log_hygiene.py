"""Log hygiene (issue 10): after a real run of the local stack — `zcd run` as `make run` starts
it, driven by `zcd demo` — no log line holds a credential or a full account number.

Every line of every `.zcd/logs/*.log` (and `zcd run`'s own output) is searched for each bank
key, the ops key, the treasury and procurement secrets and the payload (codec) keys, as found
in `.zcd/dev.json` and `.zcd/credentials.json`, and for every account number of the run: the
contracts' original payee accounts and the collection accounts locked in their place, read
back from the simulators (the procurement system's payee changes, the bank's payouts, the
treasury's payments) and from the platform's own record."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.local_stack import LocalStack

pytestmark = pytest.mark.e2e

DEMO_COUNT = 5


@pytest.fixture
def local() -> Iterator[LocalStack]:
    stack = LocalStack.in_temporary_directory()
    try:
        yield stack
    finally:
        stack.remove()


def secrets_of(data_dir: Path) -> dict[str, str]:
    """Every credential of the stack, named for the failure message: the values of dev.json's
    `credentials` and of credentials.json, rotation lists split, codec keys in every form."""
    found: dict[str, str] = {}
    documents = [json.loads((data_dir / "dev.json").read_text())["credentials"]]
    if (data_dir / "credentials.json").exists():
        documents.append(json.loads((data_dir / "credentials.json").read_text()))
    for creds in documents:
        for bank, key in dict(creds.get("banks", {})).items():
            found[f"bank key {bank}"] = str(key)
        for name in ("ops", "treasury_secret", "procurement_secret"):
            for n, value in enumerate(str(creds.get(name) or "").split(",")):
                if value.strip():
                    found[f"{name}[{n}]"] = value.strip()
        for n, entry in enumerate(str(creds.get("codec_keys") or "").split(",")):
            if not entry.strip():
                continue
            _kid, _, key = entry.strip().partition(":")
            found[f"codec key [{n}]"] = key
            try:
                raw = base64.b64decode(key, validate=True)
            except (binascii.Error, ValueError):
                continue
            found[f"codec key [{n}] as hex"] = raw.hex()
            found[f"codec key [{n}] url-safe"] = base64.urlsafe_b64encode(raw).decode()
    # a credential shorter than this would be a weak key; it would also match by chance
    weak = {name: value for name, value in found.items() if len(value) < 16}
    assert not weak, f"credentials too short to search for: {sorted(weak)}"
    return found


def account_numbers(handoff: dict[str, Any], contract_nos: list[str]) -> set[str]:
    """The run's account numbers, from the systems that hold them."""
    sims = handoff["simulators"]
    accounts: set[str] = set()
    with httpx.Client(timeout=10) as http:
        for contract_no in contract_nos:
            state = http.get(f"{sims['procurement']}/sim/contracts/{contract_no}")
            assert state.status_code == 200, state.text
            document = state.json()
            accounts.add(document["contract"]["payee_account_no"])
            for change in document["payee_changes"]:
                accounts.update(str(change[k]) for k in ("account_no", "previous_account_no") if change.get(k))
            payouts = http.get(f"{sims['bank']}/sim/disbursements", params={"contract_no": contract_no})
            assert payouts.status_code == 200, payouts.text
            accounts.update(str(item["account_no"]) for item in payouts.json()["items"])
            paid = http.get(f"{sims['treasury']}/sim/payments", params={"contract_no": contract_no})
            assert paid.status_code == 200, paid.text
            accounts.update(str(item["payee_account_no"]) for item in paid.json()["items"])
    return {a for a in accounts if a}


def applications_of_the_run(handoff: dict[str, Any]) -> list[dict[str, Any]]:
    ops = {"Authorization": f"Bearer {handoff['credentials']['ops']}"}
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    with httpx.Client(timeout=10) as http:
        for _ in range(50):
            params: dict[str, str | int] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = http.get(f"{handoff['api']}/v1/applications", params=params, headers=ops)
            assert page.status_code == 200, page.text
            items.extend(page.json()["items"])
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
    return items


async def recorded_accounts(database_url: str) -> set[str]:
    """The collection accounts and paid-into accounts the platform recorded."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            """
            SELECT collection_account_no AS account FROM applications
            UNION SELECT collection_account_no FROM financing_registry
            UNION SELECT payee_account_no FROM treasury_payments
            """
        )
    finally:
        await connection.close()
    return {str(row["account"]) for row in rows if row["account"]}


def log_lines(local: LocalStack) -> list[tuple[str, int, str]]:
    """(file, line number, text) of every line the stack logged."""
    files = sorted((local.data_dir / "logs").glob("*.log")) + sorted(local.root.glob("zcd-run-*.out"))
    lines: list[tuple[str, int, str]] = []
    for path in files:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            lines.append((path.name, number, line))
    return lines


async def test_no_credential_or_account_number_in_any_log_line(local: LocalStack) -> None:
    started = time.monotonic()
    handoff = local.start()
    demo = local.zcd("demo", "--count", str(DEMO_COUNT), "--stage-timeout", "30", timeout=60)
    assert demo.returncode == 0, demo.stdout + demo.stderr

    applications = applications_of_the_run(handoff)
    contract_nos = sorted({str(item["contract_no"]) for item in applications})
    assert len(contract_nos) >= DEMO_COUNT, contract_nos
    accounts = account_numbers(handoff, contract_nos) | await recorded_accounts(handoff["database_url"])
    # the demo's own numbering: a supplier's account 6217…, a collection account 6222…
    assert any(a.startswith("6217") for a in accounts) and any(a.startswith("6222") for a in accounts), accounts
    secrets = secrets_of(local.data_dir)
    assert any(name.startswith("bank key") for name in secrets) and "ops[0]" in secrets, sorted(secrets)

    assert local.interrupt() == 0, local.output()  # every part flushes its log on the way out
    lines = log_lines(local)
    logged_files = {name for name, _, _ in lines}
    assert any(name.startswith("api") for name in logged_files), logged_files
    assert any(name.startswith("worker") for name in logged_files), logged_files
    assert len(lines) >= 50, f"the stack logged only {len(lines)} lines: {logged_files}"
    # the account numbers are really in the logs' reach: the contract numbers they belong to are
    requests_logged = sum(1 for _, _, text in lines if any(c in text for c in contract_nos))
    assert requests_logged > 0, "no log line names any contract of the run: is anything logged at all?"

    leaks: list[str] = []
    needles = {**secrets, **{f"account number {a}": a for a in sorted(accounts)}}
    for name, number, text in lines:
        for what, value in needles.items():
            if value in text:
                leaks.append(f"{name}:{number}: {what}: {text[:300]}")
    assert not leaks, f"{len(leaks)} log lines leak a secret or account number:\n" + "\n".join(leaks[:40])
    assert time.monotonic() - started < 90, f"took {time.monotonic() - started:.0f} s"
