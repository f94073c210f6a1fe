"""A property-based fuzz of every operation of `/openapi.json` as every principal (issue 10).

For every generated request: never a 5xx, never a hang (10 s), a documented status with a
body matching the documented schema (problem+json with a string `code` for every 4xx), and a
refusal (4xx) changes nothing — the read model, the ledger, the inboxes, the idempotency
keys, the registry, the audit trail's writes and the touched workflows' history lengths are
compared before and after it. Every operation × principal pair is sent first, then random
ones. Failures are collected over the whole run and reported per class, each with its
smallest request, so that one run lists every distinct defect.

CI form: 1,500 requests. Long form: `ZCD_FUZZ_REQUESTS=10000 pytest tests/fuzz -s`
(`ZCD_FUZZ_SEED` picks another reproducible sequence)."""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from domain.signing import SIGNATURE_HEADER, signature_header
from tests.fuzz.generators import PRINCIPALS, FuzzRequest, Operation, World, fuzz_requests, operations_of
from tests.fuzz.oracle import Contract, Finding, changes, describe_changes, snapshot
from tests.fuzz.rawhttp import Dropped, Hang, RawResponse, send

pytestmark = pytest.mark.e2e

REQUESTS = int(os.environ.get("ZCD_FUZZ_REQUESTS", "1500"))
SEED = int(os.environ.get("ZCD_FUZZ_SEED", "0"))
REQUEST_TIMEOUT = 10.0
SETTLE_WITHIN = 15.0


@dataclass
class Failure:
    count: int
    example: str
    size: int
    operations: set[str] = field(default_factory=set)


@dataclass
class Fuzz:
    stack: dict[str, Any]
    world: World
    contract: Contract
    sent: Counter[str] = field(default_factory=Counter)  # per status
    per_operation: Counter[str] = field(default_factory=Counter)
    per_pair: Counter[tuple[str, str]] = field(default_factory=Counter)
    failures: dict[str, Failure] = field(default_factory=dict)  # per class: the kind of finding
    started_workflows: set[str] = field(default_factory=set)
    settles: int = 0

    @property
    def pool(self) -> asyncpg.Pool:
        pool: asyncpg.Pool = self.stack["pool"]
        return pool

    @property
    def temporal(self) -> Client:
        client: Client = self.stack["temporal"]
        return client

    def fail(self, request: FuzzRequest, finding: Finding) -> None:
        size = len(request.target) + len(request.body or b"")
        example = f"{request.describe()}\n    -> {finding.detail[:1500]}"
        known = self.failures.setdefault(finding.kind, Failure(0, example, size))
        known.count += 1
        known.operations.add(request.operation.label)
        if size < known.size:
            known.example, known.size = example, size

    def headers(self, request: FuzzRequest) -> list[tuple[bytes, bytes]]:
        keys = self.stack["keys"]
        body = request.body or b""
        now = int(time.time())
        system = "procurement" if "procurement" in request.operation.path else "treasury"
        other = "treasury" if system == "procurement" else "procurement"
        bearer = {
            "bank": b"Bearer " + keys["banks"]["ICBC"].encode(),
            "other_bank": b"Bearer " + keys["banks"]["ABC"].encode(),
            "ops": b"Bearer " + keys["ops"].encode(),
            "bad_key": b"Bearer zcd_" + secrets.token_urlsafe(32).encode(),
            "malformed_auth": b"Basic \xff\xfe" + keys["ops"].encode()[:8],
            "bank_lowercase_scheme": b"bearer " + keys["banks"]["ICBC"].encode(),
        }
        signed = {
            "treasury": signature_header(keys["treasury_secret"], now, body),
            "procurement": signature_header(keys["procurement_secret"], now, body),
            "sig_wrong_secret": signature_header(keys[f"{other}_secret"], now, body),
            "sig_stale": signature_header(keys[f"{system}_secret"], now - 1000, body),
            "sig_future": signature_header(keys[f"{system}_secret"], now + 1000, body),
            "sig_garbage": "t=abc,v1=zz",
            "sig_no_v1": f"t={now}",
        }
        out = list(request.headers)
        if request.principal in bearer:
            out.append((b"Authorization", bearer[request.principal]))
        elif request.principal in signed:
            out.append((SIGNATURE_HEADER.encode(), signed[request.principal].encode()))
        if request.content_type is not None:
            out.append((b"Content-Type", request.content_type))
        if request.idempotency_key is not None:
            out.append((b"Idempotency-Key", request.idempotency_key))
        return out

    async def exercise(self, request: FuzzRequest) -> None:
        self.per_operation[request.operation.label] += 1
        self.per_pair[(request.operation.label, request.principal)] += 1
        before = await snapshot(self.pool, self.temporal, request.touched)
        try:
            response: RawResponse = await send(
                "127.0.0.1",
                self.stack["port"],
                request.operation.method,
                request.target,
                self.headers(request),
                request.body,
                REQUEST_TIMEOUT,
            )
        except (Hang, Dropped) as error:
            self.sent[type(error).__name__.lower()] += 1
            self.fail(request, Finding(type(error).__name__.lower(), str(error)))
            await self.settle(request)
            return
        self.sent[str(response.status)] += 1
        for finding in self.contract.check(request.operation, request.target, response):
            self.fail(request, finding)
        if 400 <= response.status < 500:
            after = await snapshot(self.pool, self.temporal, request.touched)
            diff = changes(before, after)
            if diff:
                kind = f"refusal {response.status} changed " + ", ".join(sorted({k.split()[0] for k in diff}))
                self.fail(request, Finding(kind, describe_changes(diff)))
                await self.settle(request)
        elif response.status >= 300 or request.operation.method != "GET":
            if response.status == 201:
                try:
                    self.started_workflows.add(str(response.json()["application_id"]))
                except (ValueError, KeyError, TypeError):
                    pass
            await self.settle(request)

    async def settle(self, request: FuzzRequest) -> None:
        """After a change: wait (with a deadline) until nothing moves any more — two equal
        snapshots in a row and no workflow with an activity in flight — so the next refusal is
        judged against a still world."""
        self.settles += 1
        watched = set(self.world.own_ids) | set(self.world.other_ids) | self.started_workflows
        deadline = time.monotonic() + SETTLE_WITHIN
        previous = await snapshot(self.pool, self.temporal, watched)
        while True:
            await asyncio.sleep(0.2)  # polling a distributed system that settles by itself
            current = await snapshot(self.pool, self.temporal, watched)
            if current == previous and not await self.in_flight(watched):
                return
            if time.monotonic() > deadline:
                diff = describe_changes(changes(previous, current))
                moving = f"still moving after {SETTLE_WITHIN:.0f} s: {diff}"
                self.fail(request, Finding("never settles after it", moving))
                return
            previous = current

    async def in_flight(self, application_ids: set[str]) -> bool:
        for application_id in application_ids:
            try:
                described = await self.temporal.get_workflow_handle(f"financing-{application_id}").describe()
            except RPCError:
                continue
            if described.status == WorkflowExecutionStatus.RUNNING and described.raw_description.pending_activities:
                return True
        return False

    def report(self, seconds: float) -> str:
        total = sum(self.sent.values())
        lines = [
            f"fuzz: {total} requests in {seconds:.1f} s ({self.settles} settles after changes), per status: "
            + ", ".join(f"{status}: {n}" for status, n in sorted(self.sent.items())),
            "per operation: " + ", ".join(f"{op}: {n}" for op, n in sorted(self.per_operation.items())),
        ]
        if self.failures:
            lines.append(f"{len(self.failures)} failure classes:")
            for kind, failure in sorted(self.failures.items()):
                operations = ", ".join(sorted(failure.operations))
                lines.append(f"- {kind} (x{failure.count}, in {operations})\n    smallest: {failure.example}")
        return "\n".join(lines)


def drive(fuzz: Fuzz, operations: list[Operation], loop: asyncio.AbstractEventLoop, count: int) -> None:
    """Hypothesis in this thread; every request and snapshot on the stack's event loop. First
    one request per operation × principal, then `count` minus those at random."""
    serial = itertools.count(1)
    pairs = list(itertools.product(operations, PRINCIPALS))

    def run(examples: int, forced: tuple[Operation, str] | None) -> None:
        @seed(SEED)
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def one(data: st.DataObject) -> None:
            request = data.draw(fuzz_requests(operations, fuzz.world, next(serial), forced))
            asyncio.run_coroutine_threadsafe(fuzz.exercise(request), loop).result(timeout=REQUEST_TIMEOUT + 60)

        one()

    for pair in pairs:
        run(1, pair)
    run(max(count - len(pairs), 1), None)


async def test_fuzz_every_operation_as_every_principal(fuzz_stack: dict[str, Any], world: World) -> None:
    document = (await fuzz_stack["http"].get("/openapi.json")).json()
    operations = operations_of(document)
    assert len(operations) >= 20, [op.label for op in operations]
    fuzz = Fuzz(fuzz_stack, world, Contract(document))
    started = time.monotonic()
    count = max(REQUESTS, len(operations) * len(PRINCIPALS))
    await asyncio.to_thread(drive, fuzz, operations, asyncio.get_running_loop(), count)
    seconds = time.monotonic() - started
    report = fuzz.report(seconds)
    print("\n" + report)

    missing = [(op.label, who) for op in operations for who in PRINCIPALS if not fuzz.per_pair[(op.label, who)]]
    assert not missing, f"never sent: {missing}"
    assert sum(fuzz.sent.values()) >= count * 0.95, report  # hypothesis may stop a little early
    assert not fuzz.failures, report
