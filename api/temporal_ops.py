"""Talking to the financing workflows: update-with-start, updates, queries and signals,
with the workflow's refusals turned into problems (ApplicationError.type is the code), and
Temporal's RPC errors too: NOT_FOUND where an answer is expected is 404, any other status
503 upstream_unavailable with Retry-After (logged with the status name) — never a 500."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.problems import Problem, code_of, rpc_problem, upstream_unavailable
from domain import workflow_api as names
from domain.application import ApplicationView, FinancingInput, Recorded
from domain.errors import ErrorCode

T = TypeVar("T")


class AlreadyClosed(Exception):
    """A workflow with that id exists and has completed (REJECT_DUPLICATE refuses a restart)."""


def refusal(error: WorkflowUpdateFailedError) -> Problem:
    cause = error.cause
    if isinstance(cause, ApplicationError):
        code = code_of(cause.type)
        detail = cause.message or str(cause)
        if code == ErrorCode.INTERNAL_ERROR:
            return Problem(ErrorCode.INTERNAL_ERROR, "the workflow could not process the request")
        return Problem(code, detail)
    return Problem(ErrorCode.INTERNAL_ERROR, "the workflow could not process the request")


def ended_submission(final: ApplicationView) -> Problem:
    """The refusal of a submission whose workflow ended before answering: the refusal's
    detail (its final reason) starts with its code when an external system gave one."""
    reason = final.final_reason or "the application was refused"
    prefix, _, rest = reason.partition(":")
    try:
        code = ErrorCode(prefix.strip())
    except ValueError:
        return Problem(ErrorCode.UPSTREAM_UNAVAILABLE, reason)
    if code in (ErrorCode.INTERNAL_ERROR, ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN, ErrorCode.BAD_SIGNATURE):
        return Problem(ErrorCode.UPSTREAM_UNAVAILABLE, reason)
    return Problem(code, rest.strip() or reason)


def failed_submission(failure: WorkflowFailureError) -> Problem:
    """The workflow failed outright during verification: the refusal code is the type of
    the ApplicationError somewhere in its cause chain."""
    cause: BaseException | None = failure.cause
    while cause is not None:
        if isinstance(cause, ApplicationError):
            code = code_of(cause.type)
            if code not in (ErrorCode.INTERNAL_ERROR, ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN):
                detail = cause.message
                prefix = f"{code.value}: "
                return Problem(code, detail.removeprefix(prefix) or detail)
        cause = cause.__cause__ or getattr(cause, "cause", None)
    return Problem(ErrorCode.UPSTREAM_UNAVAILABLE, "the application could not be verified")


def case_summary(inp: FinancingInput) -> str:
    """The one line the Temporal UI shows for the process (static: what is known at start;
    the district arrives with verification and is in the current details and search attributes)."""
    request = inp.request
    amount = f"{request.requested_amount:,.2f}"
    summary = f"{inp.bank_code} · contract {request.contract_no} · {amount} requested ({request.product_code})"
    if inp.preapproved is not None:
        summary += f" · pre-approved: offer {inp.preapproved.offer_id} accepted by the supplier"
    return summary


def case_details(inp: FinancingInput) -> str:
    request = inp.request
    return (
        f"**Application** `{inp.application_id}`, submitted {inp.submitted_at.isoformat()} "
        f"by bank **{inp.bank_code}**\n\n"
        f"**Contract** {request.contract_no} · product {request.product_code} · "
        f"requested {request.requested_amount:,.2f}\n\n"
        "Where it stands and what it waits for: *Current details*. Money, timeline and attention "
        f"reasons: `GET /v1/applications/{inp.application_id}` (ops key). "
        "Ops fixes: `POST /v1/ops/applications/{id}/resend-to-bank | extend-deadline | cancel | account-lock | "
        "acknowledge`."
    )


def start_search_attributes(inp: FinancingInput) -> TypedSearchAttributes:
    """Set at start, so a process stuck before its first step (procurement down) is already
    found by bank and contract in the UI; the workflow keeps them current from then on."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(SearchAttributeKey.for_keyword(names.SA_STAGE), "verifying"),
            SearchAttributePair(SearchAttributeKey.for_keyword(names.SA_BANK), inp.bank_code),
            SearchAttributePair(SearchAttributeKey.for_keyword(names.SA_CONTRACT), inp.request.contract_no),
            SearchAttributePair(SearchAttributeKey.for_datetime(names.SA_STAGE_SINCE), inp.submitted_at),
            SearchAttributePair(SearchAttributeKey.for_bool(names.SA_NEEDS_ATTENTION), False),
        ]
    )


class StillProcessing(Exception):
    """The submission's verification or hand-over to the bank outlasted the API's wait; the
    process carries on (its external calls retry) and will answer a retry."""


async def submit(client: Client, inp: FinancingInput, task_queue: str, wait_seconds: float) -> Recorded:
    """Start the financing (or reach the one already started) and wait for its submission's
    answer: the record's version that shows it with the bank's review, or a refusal."""
    start: WithStartWorkflowOperation[Any, Recorded] = WithStartWorkflowOperation(
        names.WORKFLOW_TYPE,
        inp,
        id=names.workflow_id(inp.application_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        result_type=Recorded,
        static_summary=case_summary(inp),
        static_details=case_details(inp),
        search_attributes=start_search_attributes(inp),
    )
    try:
        async with asyncio.timeout(wait_seconds) as waiting:
            try:
                answer: Recorded = await client.execute_update_with_start_workflow(
                    names.UPDATE_SUBMISSION_OUTCOME, start_workflow_operation=start, result_type=Recorded
                )
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                # the SDK turns the cancellation of its wait into this error: ours, or the server's
                # own long-poll limit — either way the process is still going
                task = asyncio.current_task()
                if not waiting.expired() and task is not None and task.cancelling():
                    raise  # the request itself was cancelled (the client went away)
                raise StillProcessing(inp.application_id) from None
    except TimeoutError as error:
        raise StillProcessing(inp.application_id) from error
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type == "AcceptedUpdateCompletedWorkflow":
            # The workflow ended (a refusal) before its answer reached us: read its end.
            handle = client.get_workflow_handle(names.workflow_id(inp.application_id), result_type=Recorded)
            try:
                final: Recorded = await handle.result()
            except WorkflowFailureError as failure:
                raise failed_submission(failure) from failure
            except RPCError as rpc:
                raise rpc_problem(rpc, "submission_result", application_id=inp.application_id) from rpc
            if final.view is None:
                return final  # it had been recorded before it ended: the record answers
            raise ended_submission(final.view) from error
        raise refusal(error) from error
    except WorkflowAlreadyStartedError as error:
        raise AlreadyClosed(inp.application_id) from error
    except RPCError as error:
        if error.status == RPCStatusCode.ALREADY_EXISTS:
            raise AlreadyClosed(inp.application_id) from error
        raise rpc_problem(error, "submit", application_id=inp.application_id) from error
    return answer


async def query_view(client: Client, application_id: str) -> ApplicationView | None:
    """The workflow's own view, or None when there is no such workflow (any more)."""
    handle = client.get_workflow_handle(names.workflow_id(application_id))
    try:
        view: ApplicationView = await handle.query(names.QUERY_VIEW, result_type=ApplicationView)
    except RPCError as error:
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            return None
        raise rpc_problem(error, "query", application_id=application_id) from error
    except WorkflowQueryFailedError:
        return None
    return view


async def is_running(client: Client, application_id: str) -> bool:
    handle = client.get_workflow_handle(names.workflow_id(application_id))
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise rpc_problem(error, "describe", application_id=application_id) from error
    return description.status == WorkflowExecutionStatus.RUNNING


async def update(client: Client, application_id: str, name: str, arg: Any, result_type: type[T]) -> T:
    handle = client.get_workflow_handle(names.workflow_id(application_id))
    try:
        result: T = await handle.execute_update(name, arg, result_type=result_type)
    except WorkflowUpdateFailedError as error:
        raise refusal(error) from error
    except RPCError as error:
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise Problem(ErrorCode.INVALID_STATE, "the application has ended; it takes no more changes") from error
        raise rpc_problem(error, "update", application_id=application_id, update=name) from error
    except WorkflowUpdateRPCTimeoutOrCancelledError as error:
        # the update was sent but its answer did not come back in time: whether it was applied
        # is unknown, so the caller is told to retry (a GET shows what happened meanwhile)
        raise upstream_unavailable("the workflow did not answer in time; retry later") from error
    return result


async def signal(client: Client, application_id: str, name: str, arg: Any) -> bool:
    """Signal a workflow; False when it has ended (the inbox keeps the message for ops)."""
    handle = client.get_workflow_handle(names.workflow_id(application_id))
    try:
        await handle.signal(name, arg)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise rpc_problem(error, "signal", application_id=application_id, signal=name) from error
    return True
