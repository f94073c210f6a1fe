"""What every answer must satisfy: no 5xx, a status the operation documents, a body that
matches the documented schema (problem+json with a string `code` for every 4xx), and — for a
refusal — no change anywhere: the read model, the ledger, the inboxes, the idempotency keys,
the financing registry, the audit trail's writes and the touched workflows' histories."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

import asyncpg
import jsonschema_rs
from temporalio.client import Client
from temporalio.service import RPCError

from tests.fuzz.generators import Operation
from tests.fuzz.rawhttp import RawResponse

PROBLEM = "application/problem+json"
# A path no operation has (an id holding `/`, `..` resolved by the router): 404 not_found,
# unless the caller is refused first — no credentials (401), the wrong kind (403), a body too
# large to read (413) — or the path exists for another method (405).
NO_SUCH_PATH = (401, 403, 404, 405, 413)

# One round trip: everything a refused request must leave as it was. Reads are audited too
# (api/main.py: action "read <route>"), so only the trail's other rows count as writes.
SNAPSHOT_SQL = """
SELECT
  (SELECT coalesce(string_agg(application_id || ':' || version || ':' || stage || ':' || md5(view::text), ','
                              ORDER BY application_id), '') FROM applications) AS applications,
  (SELECT count(*) FROM ledger_postings) AS postings,
  (SELECT count(*) || '/' || coalesce(sum(debit), 0) || '/' || coalesce(sum(credit), 0) FROM ledger_entries)
      AS entries,
  (SELECT count(*) || '/' || coalesce(sum(duplicates), 0) || '/' || count(delivered_at) FROM treasury_payments)
      AS treasury_payments,
  (SELECT count(*) || '/' || coalesce(sum(duplicates), 0) || '/' || count(delivered_at) FROM account_change_events)
      AS account_change_events,
  (SELECT count(*) || '/' || count(completed_at) FROM idempotency_keys) AS idempotency_keys,
  (SELECT count(*) || '/' || count(released_at) FROM financing_registry) AS registry,
  (SELECT count(*) FROM audit_log WHERE action NOT LIKE 'read %') AS audit_writes
"""


async def snapshot(pool: asyncpg.Pool, temporal: Client, application_ids: set[str]) -> dict[str, Any]:
    row = await pool.fetchrow(SNAPSHOT_SQL)
    assert row is not None
    state: dict[str, Any] = dict(row)
    for application_id in sorted(application_ids):
        state[f"history {application_id}"] = await history_length(temporal, application_id)
    return state


async def history_length(temporal: Client, application_id: str) -> int | None:
    try:
        history = await temporal.get_workflow_handle(f"financing-{application_id}").fetch_history()
    except RPCError:
        return None
    return len(history.events)


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {k: (before.get(k), after.get(k)) for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}


def describe_changes(diff: dict[str, tuple[Any, Any]]) -> str:
    out = []
    for name, (was, now) in diff.items():
        if name == "applications":
            old = dict(item.split(":", 1) for item in str(was).split(",") if item)
            new = dict(item.split(":", 1) for item in str(now).split(",") if item)
            moved = {k: (old.get(k), new.get(k)) for k in set(old) | set(new) if old.get(k) != new.get(k)}
            out.append(f"applications {moved}")
        else:
            out.append(f"{name} {was} -> {now}")
    return "; ".join(out)


@dataclass
class Finding:
    kind: str  # the failure class
    detail: str


class Contract:
    """The OpenAPI document as an oracle for answers."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._validators: dict[str, Any] = {}
        self._routes = [
            (method.upper(), path, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"))
            for path, item in document["paths"].items()
            for method in item
        ]

    def route_of(self, target: bytes) -> str | None:
        """The path template the decoded path matches, as the router matches it; None if none."""
        raw_path = target.split(b"?", 1)[0]
        decoded = unquote_to_bytes(raw_path).decode("utf-8", errors="replace")
        matching = [(m, p) for m, p, rx in self._routes if rx.match(decoded)]
        return matching[0][1] if matching else None

    def _validator(self, key: str, schema: dict[str, Any]) -> Any:
        if key not in self._validators:
            root = {**schema, "components": self.document.get("components", {})}
            self._validators[key] = jsonschema_rs.validator_for(root)
        return self._validators[key]

    def check(self, operation: Operation, target: bytes, response: RawResponse) -> list[Finding]:
        status = response.status
        findings: list[Finding] = []
        if status >= 500:
            code = _code(response)
            findings.append(Finding(f"{status} {code}", _shown(response)))
            return findings
        template = self.route_of(target)
        documented: dict[str, Any] | None = None
        if template is not None:
            path_item = self.document["paths"][template]
            op = path_item.get(operation.method.lower())
            if op is None:
                if status not in (404, 405):
                    findings.append(Finding(f"wrong method answered {status}", _shown(response)))
            else:
                responses = op.get("responses", {})
                documented = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
                documented = documented or responses.get("default")
                if documented is None:
                    findings.append(
                        Finding(f"undocumented status {status}", f"documented: {sorted(responses)}; {_shown(response)}")
                    )
        elif status not in NO_SUCH_PATH:
            findings.append(Finding(f"no such path, answered {status}", _shown(response)))

        if 400 <= status < 500:
            findings += _problem_findings(response)
        if documented is not None:
            content = documented.get("content") or {}
            media = response.content_type
            if content and media not in content:
                findings.append(Finding(f"{status} as {media or 'no content type'}", f"documented: {sorted(content)}"))
            elif media in content and "json" in media:
                schema = content[media].get("schema")
                if schema:
                    try:
                        body = response.json()
                    except ValueError:
                        findings.append(Finding(f"{status} body is not JSON", _shown(response)))
                        return findings
                    validator = self._validator(f"{operation.label} {status} {media}", schema)
                    errors = [e.message for e in validator.iter_errors(body)]
                    if errors:
                        findings.append(
                            Finding(f"{status} body off its schema", f"{errors[:3]}; {_shown(response, 400)}")
                        )
        return findings


def _code(response: RawResponse) -> str:
    try:
        body = response.json()
    except ValueError:
        return "(not JSON)"
    return str(body.get("code")) if isinstance(body, dict) else "(not an object)"


def _shown(response: RawResponse, limit: int = 300) -> str:
    return f"{response.status} {response.content_type}: {response.body[:limit]!r}"


def _problem_findings(response: RawResponse) -> list[Finding]:
    if response.content_type != PROBLEM:
        return [Finding(f"{response.status} not problem+json ({response.content_type})", _shown(response))]
    try:
        body = json.loads(response.body)
    except ValueError:
        return [Finding(f"{response.status} problem is not JSON", _shown(response))]
    if not isinstance(body, dict) or not isinstance(body.get("code"), str) or not body["code"]:
        return [Finding(f"{response.status} problem without a string code", _shown(response))]
    if body.get("status") not in (None, response.status):
        return [Finding(f"{response.status} problem says status {body.get('status')}", _shown(response))]
    return []
