"""The applications read model: what lists, ops queries and the bureau's statistics read.

Temporal holds each application's process state; the workflow writes its view here at every
change (`upsert_view`). Writes are versioned — only a higher `view.version` overwrites — so
a retried or late write never takes a row back in time and a repeated one changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from domain.application import ApplicationView, AttentionItem, ShownInstant
from domain.business_time import business_date
from domain.events import derive_events
from domain.stages import ACTIVE_STAGES, PAYMENT_ACCEPTING_STAGES, Stage
from domain.state_council_calendar import state_council_calendar
from domain.working_days import working_days_between
from store.cursors import clamp_limit, decode_cursor, encode_cursor
from store.db import Connection
from store.events import append_events

_ACTIVE = sorted(stage.value for stage in ACTIVE_STAGES)
_PAYMENT_ACCEPTING = sorted(stage.value for stage in PAYMENT_ACCEPTING_STAGES)
# What makes an application "stuck" (GET /v1/ops/stuck, and the zcd_applications_stuck gauge):
# flagged for attention — an active one, or an ended one that keeps a message for a person
# (its process stays open until ops acknowledge it) — or active and past its stage's deadline.
# $1: active stages, $2: now.
STUCK_CONDITION = "(needs_attention OR (stage = ANY($1::text[]) AND stage_deadline < $2))"
ACTIVE_STAGE_VALUES = _ACTIVE


class StuckApplication(BaseModel):
    """An active application that needs a person (GET /v1/ops/stuck)."""

    application_id: str
    contract_no: str
    bank_code: str
    district: str | None
    stage: Stage
    since: ShownInstant
    deadline: ShownInstant | None
    needs_attention: bool
    reasons: list[str]
    # the workflow's flags with their keys (what `POST .../acknowledge` takes) — an addition;
    # a passed stage deadline is in `reasons` only: it is not a flag (extend-deadline fixes it)
    attention: list[AttentionItem] = []
    # working days (State Council calendar) the stage has lasted so far, counted after the day
    # it began up to today — the unit of the review SLA — an addition
    working_days_in_stage: int = 0


def _stage_since(view: ApplicationView, fallback: datetime) -> datetime:
    if view.stage_since is not None:
        return view.stage_since
    for entry in reversed(view.timeline):
        if entry.stage == view.stage:
            return entry.at
    return fallback


class ApplicationRepository:
    """Reads and versioned writes of the applications read model."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def upsert_view(self, view: ApplicationView, event: str, collection_account_no: str | None = None) -> None:
        """Record `view` unless the stored one has the same or a higher version.

        `event` names what changed (kept as `last_event`). `collection_account_no` is the
        supplier's collection account from the workflow input — the account that becomes
        the contract's locked payee account; once given it is kept by later writes that
        leave it out.
        """
        submitted_at = view.submitted_at or (view.timeline[0].at if view.timeline else datetime.now(UTC))
        async with self._pool.acquire() as connection, connection.transaction():
            stored = await connection.fetchrow(
                "SELECT version, view FROM applications WHERE application_id = $1 FOR UPDATE", view.application_id
            )
            if stored is not None and stored["version"] >= view.version:
                return  # a late or repeated write: the record only moves forward
            before = ApplicationView.model_validate(stored["view"]) if stored is not None else None
            await self._write(connection, view, event, collection_account_no, submitted_at)
            await append_events(connection, view, derive_events(before, view))

    async def _write(
        self,
        connection: Connection,
        view: ApplicationView,
        event: str,
        collection_account_no: str | None,
        submitted_at: datetime,
    ) -> None:
        await connection.execute(
            """
            INSERT INTO applications (
                application_id, bank_code, contract_no, supplier_credit_code, district, stage, product_code,
                requested_amount, approved_amount, disbursed_on, outstanding_principal, principal_repaid,
                interest_paid, penalty_paid, surplus_released, needs_attention, attention_reasons,
                stage_since, stage_deadline, submitted_at, updated_at, version, last_event,
                collection_account_no, view)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                    $18, $19, $20, clock_timestamp(), $21, $22, $23, $24)
            ON CONFLICT (application_id) DO UPDATE SET
                bank_code = EXCLUDED.bank_code,
                contract_no = EXCLUDED.contract_no,
                supplier_credit_code = EXCLUDED.supplier_credit_code,
                district = EXCLUDED.district,
                stage = EXCLUDED.stage,
                product_code = EXCLUDED.product_code,
                requested_amount = EXCLUDED.requested_amount,
                approved_amount = EXCLUDED.approved_amount,
                disbursed_on = EXCLUDED.disbursed_on,
                outstanding_principal = EXCLUDED.outstanding_principal,
                principal_repaid = EXCLUDED.principal_repaid,
                interest_paid = EXCLUDED.interest_paid,
                penalty_paid = EXCLUDED.penalty_paid,
                surplus_released = EXCLUDED.surplus_released,
                needs_attention = EXCLUDED.needs_attention,
                attention_reasons = EXCLUDED.attention_reasons,
                stage_since = EXCLUDED.stage_since,
                stage_deadline = EXCLUDED.stage_deadline,
                submitted_at = EXCLUDED.submitted_at,
                updated_at = EXCLUDED.updated_at,
                version = EXCLUDED.version,
                last_event = EXCLUDED.last_event,
                collection_account_no = coalesce(EXCLUDED.collection_account_no, applications.collection_account_no),
                view = EXCLUDED.view
            WHERE applications.version < EXCLUDED.version
            """,
            view.application_id,
            view.bank_code,
            view.contract_no,
            view.supplier_credit_code,
            view.district,
            view.stage.value,
            view.product_code,
            view.requested_amount,
            view.approved_amount,
            view.disbursed_on,
            view.outstanding_principal,
            view.principal_repaid,
            view.interest_paid,
            view.penalty_paid,
            view.surplus_released,
            view.needs_attention,
            view.attention_reasons,
            _stage_since(view, submitted_at),
            view.stage_deadline,
            submitted_at,
            view.version,
            event,
            collection_account_no,
            view.model_dump(mode="json"),
        )

    async def get(self, application_id: str) -> ApplicationView | None:
        view = await self._pool.fetchval("SELECT view FROM applications WHERE application_id = $1", application_id)
        return ApplicationView.model_validate(view) if view is not None else None

    async def version_of(self, application_id: str) -> int | None:
        """The stored view's version (None when there is none): lets a writer skip work."""
        version: int | None = await self._pool.fetchval(
            "SELECT version FROM applications WHERE application_id = $1", application_id
        )
        return version

    async def collection_account(self, application_id: str) -> str | None:
        """The collection account recorded for an application (the registry keeps it too)."""
        account: str | None = await self._pool.fetchval(
            "SELECT collection_account_no FROM applications WHERE application_id = $1", application_id
        )
        return account

    async def has_active(self, contract_no: str) -> bool:
        """Whether an application on `contract_no` is in an active stage. (A written-off
        financing also blocks a new one; the registry, which it keeps, says so.)"""
        found: bool = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM applications WHERE contract_no = $1 AND stage = ANY($2::text[]))",
            contract_no,
            _ACTIVE,
        )
        return found

    async def stuck(self, now: datetime) -> list[StuckApplication]:
        """Applications that need a person (see STUCK_CONDITION), longest waiting first."""
        rows = await self._pool.fetch(
            f"""
            SELECT application_id, contract_no, bank_code, district, stage, stage_since, submitted_at,
                   stage_deadline, needs_attention, attention_reasons, view->'attention' AS attention
              FROM applications
             WHERE {STUCK_CONDITION}
             ORDER BY coalesce(stage_since, submitted_at), application_id
            """,
            _ACTIVE,
            now,
        )
        stuck: list[StuckApplication] = []
        calendar = state_council_calendar()
        for row in rows:
            reasons = list(row["attention_reasons"])
            deadline: datetime | None = row["stage_deadline"]
            if deadline is not None and deadline < now:
                overdue_by = now - deadline
                reasons.append(
                    f"stage {row['stage']} passed its deadline {deadline.isoformat()} "
                    f"({overdue_by.days} days {overdue_by.seconds // 3600} hours ago)"
                )
            since: datetime = row["stage_since"] or row["submitted_at"]
            stuck.append(
                StuckApplication(
                    application_id=row["application_id"],
                    contract_no=row["contract_no"],
                    bank_code=row["bank_code"],
                    district=row["district"],
                    stage=Stage(row["stage"]),
                    since=since,
                    deadline=deadline,
                    needs_attention=row["needs_attention"],
                    reasons=reasons,
                    attention=[AttentionItem.model_validate(item) for item in row["attention"] or []],
                    working_days_in_stage=working_days_between(calendar, business_date(since), business_date(now)),
                )
            )
        return stuck

    async def list(
        self,
        bank_code: str | None = None,
        stage: Stage | str | None = None,
        contract_no: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        updated_since: datetime | None = None,
        supplier_credit_code: str | None = None,
    ) -> tuple[list[ApplicationView], str | None]:
        """A page of applications, newest first (submitted_at, then id, descending).

        `bank_code` None lists every bank's (ops); a bank's caller passes its own code and
        never sees another's. Returns (items, next_cursor); next_cursor is None on the last
        page. An unrecognisable cursor raises `store.cursors.InvalidCursor`.
        """
        limit = clamp_limit(limit)
        conditions: list[str] = []
        args: list[Any] = []

        def condition(sql: str, value: Any) -> None:
            args.append(value)
            conditions.append(sql.replace("?", f"${len(args)}"))

        if bank_code is not None:
            condition("bank_code = ?", bank_code)
        if supplier_credit_code is not None:  # a supplier's own, every bank's and channel's
            condition("supplier_credit_code = ?", supplier_credit_code)
        if stage is not None:
            condition("stage = ?", Stage(stage).value)
        if contract_no is not None:
            condition("contract_no = ?", contract_no)
        if updated_since is not None:
            condition("updated_at >= ?", updated_since)
        if cursor is not None:
            after_at, after_id = decode_cursor(cursor)
            args.extend([after_at, after_id])
            conditions.append(f"(submitted_at, application_id) < (${len(args) - 1}, ${len(args)})")
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        args.append(limit + 1)  # one more than asked tells whether there is a next page
        rows = await self._pool.fetch(
            f"""
            SELECT view, submitted_at, application_id FROM applications {where}
             ORDER BY submitted_at DESC, application_id DESC
             LIMIT ${len(args)}
            """,
            *args,
        )
        items = [ApplicationView.model_validate(row["view"]) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(last["submitted_at"], last["application_id"])
        return items, next_cursor
