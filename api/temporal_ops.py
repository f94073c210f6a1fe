"""Talking to the financing workflows: update-with-start, updates, queries and signals,
with the workflow's refusals turned into problems (ApplicationError.type is the code)."""

from __future__ import annotations

from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.problems import Problem, code_of
from domain import workflow_api as names
from domain.application import ApplicationView, FinancingInput
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


async def submit(client: Client, inp: FinancingInput, task_queue: str) -> ApplicationView:
    start: WithStartWorkflowOperation[Any, ApplicationView] = WithStartWorkflowOperation(
        names.WORKFLOW_TYPE,
        inp,
        id=names.workflow_id(inp.application_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        result_type=ApplicationView,
    )
    try:
        view: ApplicationView = await client.execute_update_with_start_workflow(
            names.UPDATE_SUBMISSION_OUTCOME, start_workflow_operation=start, result_type=ApplicationView
        )
    except WorkflowUpdateFailedError as error:
        raise refusal(error) from error
    except WorkflowAlreadyStartedError as error:
        raise AlreadyClosed(inp.application_id) from error
    except RPCError as error:
        if error.status == RPCStatusCode.ALREADY_EXISTS:
            raise AlreadyClosed(inp.application_id) from error
        raise
    return view


async def query_view(client: Client, application_id: str) -> ApplicationView | None:
    """The workflow's own view, or None when there is no such workflow (any more)."""
    handle = client.get_workflow_handle(names.workflow_id(application_id))
    try:
        view: ApplicationView = await handle.query(names.QUERY_VIEW, result_type=ApplicationView)
    except RPCError as error:
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            return None
        raise
    except WorkflowQueryFailedError:
        return None
    return view


async def update(client: Client, application_id: str, name: str, arg: Any, result_type: type[T]) -> T:
    handle = client.get_workflow_handle(names.workflow_id(application_id))
    try:
        result: T = await handle.execute_update(name, arg, result_type=result_type)
    except WorkflowUpdateFailedError as error:
        raise refusal(error) from error
    except RPCError as error:
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise Problem(ErrorCode.INVALID_STATE, "the application has ended; it takes no more changes") from error
        raise
    return result


async def signal(client: Client, application_id: str, name: str, arg: Any) -> bool:
    """Signal a workflow; False when it has ended (the inbox keeps the message for ops)."""
    handle = client.get_workflow_handle(names.workflow_id(application_id))
    try:
        await handle.signal(name, arg)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
