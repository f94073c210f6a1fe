"""The saga: each step with a side effect registers its undo *before* it runs; reaching a
final stage early runs every registered undo (in parallel, each retried until it succeeds)
and leaves a stage that says what happened. Settlement closes with the same steps.

After disbursement nothing is undone: the loan lives until repaid or written off.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import steps
    from domain.application import is_held_message
    from domain.stages import Stage

from workflows.financing import messages
from workflows.financing.policies import EXTERNAL_CALL, EXTERNAL_TIMEOUT
from workflows.financing.process import Ended, Process

UNDO_STEPS: dict[str, str] = {  # what was done -> the step that undoes it
    "registration": steps.RELEASE_FINANCING,  # release the financing registration
    "review": steps.CANCEL_REVIEW,  # withdraw the application from the bank's review
    "payee": steps.RESTORE_PAYEE_ACCOUNT,  # restore the contract's payee account
    "treasury": steps.UNLOCK_PAYEE_ACCOUNT,  # release the treasury's payee-account lock
}


def register(p: Process, key: str) -> None:
    if key not in p.state.undo:
        p.state.undo.append(key)


def drop(p: Process, key: str) -> None:
    p.state.undo = [k for k in p.state.undo if k != key]


def _undo_input(p: Process, key: str, reason: str) -> object:
    inp = p.inp
    if key == "review":
        return steps.ReviewCancellation(application_id=inp.application_id, bank_code=inp.bank_code, reason=reason)
    model = {"registration": steps.Release, "payee": steps.PayeeRestore, "treasury": steps.TreasuryUnlock}[key]
    return model(application_id=inp.application_id, contract_no=inp.request.contract_no, reason=reason)


async def end(p: Process, stage: Stage, reason: str, *, raise_: bool = True) -> None:
    """Reach a final stage: keep what needs a person, record, run every registered undo."""
    state = p.state
    if state.closed:
        raise Ended
    state.final_reason = reason
    # flags about the process go with it; flags about a message kept for a person stay
    state.attention = {k: v for k, v in state.attention.items() if is_held_message(k)}
    state.deadlines.attention_at = state.deadlines.expiry_at = None
    undo, state.undo = list(reversed(state.undo)), []
    p.set_stage(stage, waiting_for=None)
    messages.keep_unapplicable_money(p)
    if state.loan.terms is None and workflow.patched(ENDING_COMMITTED_FIRST):
        await _commit_the_ending()
    await p.record(f"ended: {stage}")
    if undo:
        workflow.logger.info("%s: undoing %d steps: %s", stage, len(undo), reason)
        await asyncio.gather(
            *(
                workflow.execute_local_activity(  # undoing is keyed and safe to repeat, like every step
                    UNDO_STEPS[key],
                    _undo_input(p, key, reason),
                    start_to_close_timeout=EXTERNAL_TIMEOUT,
                    retry_policy=EXTERNAL_CALL,
                )
                for key in undo
            )
        )
    state.closed = True
    await p.record("closed")
    if raise_:
        raise Ended


# Before a payout, a message that came while the process decided to end could have changed
# the ending (the purchaser's confirmation against ops' record of a refusal, a decision against
# the expiry). The workflow task that runs the undo also completes the workflow, and the server
# refuses that completion when a message came meanwhile (UNHANDLED_COMMAND): the task runs
# again with the message first and may go on to the payout — after the record showed the
# ending and the registration was released. So the ending is committed in a task of its own
# (a 1 ms timer) before anything a reader or an outside system sees; a message that comes then
# finds the process ended and is kept for a person.
ENDING_COMMITTED_FIRST = "ending-committed-before-undo"


async def _commit_the_ending() -> None:
    await workflow.sleep(timedelta(milliseconds=1))


async def end_interrupted(p: Process) -> None:
    """A withdrawal by the bank or a cancellation by ops ends the process before payout."""
    cancellation, withdrawal = p.state.cancellation, p.state.withdrawal
    if cancellation is not None:
        await end(p, Stage.FAILED, f"cancelled by {operator(cancellation.recorded_by)}: {cancellation.reason}")
    reason = (withdrawal.reason if withdrawal else None) or "withdrawn by the bank"
    await end(p, Stage.WITHDRAWN, reason)


def operator(recorded_by: str | None) -> str:
    """How a reason names the operator: the API stamps "ops:<label>" — "ops" for the platform's
    own key, "ops (alice)" for a named one."""
    label = (recorded_by or "").removeprefix("ops:")
    return "ops" if label in ("", "ops") else f"ops ({label})"
