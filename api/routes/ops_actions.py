"""Operations' fixes for stuck processes — additions to API.md, each a workflow update with a
validator, so a refused action (wrong stage, unknown flag) changes nothing and answers 409
invalid_state; a malformed body answers 422 validation_error.

- `POST /v1/ops/applications/{id}/resend-to-bank` — send the application to the bank's review again
  (`bank_review` only; the review SLA restarts);
- `POST /v1/ops/applications/{id}/extend-deadline` `{"days": 1..90, "note"}` — push the current
  waiting stage's deadlines out (`bank_review`, `account_lock`); clears a deadline flag;
- `POST /v1/ops/applications/{id}/cancel` `{"reason"}` — end an application before disbursement with
  full compensation (registration released, payee account restored); ends in `failed`;
- `POST /v1/ops/applications/{id}/acknowledge` `{"reason": "<attention key>", "note"}` — a person
  dealt with a flag that needs judgement (a misdirected payment, an ignored cancellation); the
  flag is removed and the note kept in the timeline.
Every action is audited with the operator's identity (`recorded_by` is set by the server)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.answers import update_application
from api.audit import record
from api.auth import OpsPrincipal, State, ops_principal
from api.problems import problem_responses
from api.stage_guard import require_acknowledgeable, require_reachable
from api.visibility import visible_view
from domain import workflow_api as names
from domain.application import (
    ApplicationView,
    AttentionAcknowledgement,
    DeadlineExtension,
    OfflineLockAnswer,
    OpsCancellation,
    ResendToBank,
)
from domain.stages import WITHDRAWABLE_STAGES, Stage

router = APIRouter(
    tags=["operations"], responses=problem_responses(401, 403, 404, 409, 422), dependencies=[Depends(ops_principal)]
)

_REFUSALS = (
    "Refusals change nothing: **409** `invalid_state` when the application is not in a stage that "
    "allows the action, or has ended; **422** `validation_error` for a malformed body; **404** "
    "`not_found` for an unknown application; **403** `forbidden` for a bank key."
)


# the stages each action allows, to refuse from the record what the workflow would refuse
_ALLOWED: dict[str, frozenset[Stage]] = {
    names.UPDATE_RESEND_TO_BANK: frozenset({Stage.BANK_REVIEW}),
    names.UPDATE_EXTEND_DEADLINE: frozenset({Stage.BANK_REVIEW, Stage.ACCOUNT_LOCK}),
    names.UPDATE_CANCEL: WITHDRAWABLE_STAGES,
    names.UPDATE_RECORD_OFFLINE_LOCK_ANSWER: frozenset({Stage.ACCOUNT_LOCK}),
}


async def _act(
    state: State,
    who: OpsPrincipal,
    application_id: str,
    update: str,
    body: BaseModel,
    *,
    action: str | None = None,
    guard: Callable[[ApplicationView], None] | None = None,
) -> Any:
    """One ops action: refused from the record when the stage cannot take it (or `guard`
    refuses it), sent to the workflow stamped with who did it, written to the audit trail,
    answered with the application."""
    view = await visible_view(state, who, application_id)
    if update in _ALLOWED:
        require_reachable(view, _ALLOWED[update], update.replace("_", " "))
    if guard is not None:
        guard(view)
    stamped = body.model_copy(update={"recorded_by": who.name})
    view = await update_application(state, application_id, update, stamped)
    await record(
        state,
        who.name,
        action or f"ops.{update}",
        application_id,
        **body.model_dump(mode="json", exclude={"recorded_by"}),
    )
    return view.model_dump(mode="json")


@router.post(
    "/v1/ops/applications/{application_id}/resend-to-bank",
    response_model=ApplicationView,
    summary="Send the application to the bank's review again",
    description=(
        "For an application in `bank_review` whose bank seems to have lost it (no decision, the "
        "review SLA passed and the `deadline` flag is up): hands it to the bank's credit system "
        "again (same idempotency scheme, a new submission number) and restarts the review SLA and "
        "expiry, which clears the `deadline` flag. Answers with the application once resent. "
        "Only in `bank_review`, and not once the bank has decided or while a resend is under way. " + _REFUSALS
    ),
)
async def resend_to_bank(application_id: str, body: ResendToBank, who: OpsPrincipal, state: State) -> Any:
    return await _act(state, who, application_id, names.UPDATE_RESEND_TO_BANK, body)


@router.post(
    "/v1/ops/applications/{application_id}/extend-deadline",
    response_model=ApplicationView,
    summary="Push the current stage's deadlines out",
    description=(
        "For an application waiting in `bank_review` (the bank's decision) or `account_lock` (the "
        "purchaser's answer to the payee-account change) that needs more time: moves both the "
        "attention deadline and the expiry `days` (1–90) later, counted from the later of the "
        "deadline and now, and clears the `deadline` flag. Answers with the application, its new "
        "`stage_deadline` included. Only in `bank_review` and `account_lock`. " + _REFUSALS
    ),
)
async def extend_deadline(application_id: str, body: DeadlineExtension, who: OpsPrincipal, state: State) -> Any:
    return await _act(state, who, application_id, names.UPDATE_EXTEND_DEADLINE, body)


@router.post(
    "/v1/ops/applications/{application_id}/cancel",
    response_model=ApplicationView,
    summary="End an application before disbursement",
    description=(
        "Ends an application that should not go on (a duplicate, a supplier that gave up, a "
        "purchaser that will never answer) with full compensation: the bank's review withdrawn, "
        "the financing registration released, the payee account restored. Ends in `failed` with "
        '`final_reason` "cancelled by ops: <reason>"; answers once every undo is done. Only in '
        "`verifying`, `bank_review` and `account_lock` — a disbursed loan ends only when repaid or "
        "written off. " + _REFUSALS
    ),
)
async def cancel(application_id: str, body: OpsCancellation, who: OpsPrincipal, state: State) -> Any:
    return await _act(state, who, application_id, names.UPDATE_CANCEL, body)


@router.post(
    "/v1/ops/applications/{application_id}/acknowledge",
    response_model=ApplicationView,
    summary="Acknowledge an attention flag that needs a person's judgement",
    description=(
        "Some flags cannot clear themselves: a treasury payment into another account than the "
        "locked one (`misdirected:<payment_id>`), a cancellation requested after disbursement "
        "(`cancel`). Once a person has dealt with it (e.g. the treasury recalled the payment), "
        "send the flag's key from the application's `attention[].key` (also in `GET "
        "/v1/ops/stuck`) and a note of what was done: the flag is removed, the note is kept in "
        "the timeline, `needs_attention` and the `ZcdNeedsAttention` search attribute follow, and "
        "the application leaves `/v1/ops/stuck` once nothing else is flagged. Any active stage, "
        "and `written_off` while it takes recoveries. **409** `invalid_state` when no such flag is "
        "up (unknown key, or already acknowledged), when the flag is one its cause clears "
        "(`deadline`, `disbursement`, `overdue`: `attention[].how_to_fix` says what clears it), or "
        "when the application has ended; **422** `validation_error` for a malformed body; **404** "
        "`not_found` for an unknown application; **403** `forbidden` for a bank key."
    ),
)
async def acknowledge(application_id: str, body: AttentionAcknowledgement, who: OpsPrincipal, state: State) -> Any:
    return await _act(
        state,
        who,
        application_id,
        names.UPDATE_ACKNOWLEDGE,
        body,
        guard=lambda view: require_acknowledgeable(view, body.reason),
    )


@router.post(
    "/v1/ops/applications/{application_id}/account-lock",
    response_model=ApplicationView,
    summary="Record the purchaser's answer given offline",
    description=(
        "For a purchaser not yet online: records the answer to the payee-account change that the "
        "purchaser gave by phone or letter (`confirmed` or `refused`, with a note), in the "
        "procurement system too. Confirmed: the locked account is registered with the treasury and "
        "the loan is disbursed; refused: `failed`, every step undone. Answers once the application "
        "has left `account_lock`. Only in `account_lock`, once: **409** `invalid_state` otherwise "
        "(or when the application has ended); **422** `validation_error` for a malformed body; "
        "**404** `not_found`; **403** `forbidden` for a bank key."
    ),
)
async def offline_lock_answer(application_id: str, body: OfflineLockAnswer, who: OpsPrincipal, state: State) -> Any:
    return await _act(
        state, who, application_id, names.UPDATE_RECORD_OFFLINE_LOCK_ANSWER, body, action="ops.offline_lock_answer"
    )
