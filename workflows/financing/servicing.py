"""Servicing: the loan from payout to its end — repayments in arrival order, the overdue
check, the bank's write-off, and closing (settled, or a written-off claim recovered).

Money received before the loan existed waited in the inbox and is applied first. Money that
arrives while the loan closes is applied too: the loan is repaid, so all of it is surplus
released to the supplier.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import steps
    from domain.application import business_date, is_held_message, start_of_business_day
    from domain.money import ZERO
    from domain.repayment import (
        Allocation,
        LoanTerms,
        accrue,
        accrue_into,
        allocate,
        allocate_recovery,
        apply_allocation,
    )
    from domain.stages import REPAYABLE_STAGES, Stage

from workflows.financing import messages, saga
from workflows.financing.process import Process, StepRefused
from workflows.financing.state import QueuedMoney


async def service(p: Process) -> None:
    while True:
        try:
            await _service_loop(p)
            return
        except asyncio.CancelledError:
            # A live loan cannot be cancelled: the money is out. Say so and carry on.
            p.flag(
                "cancel",
                "cancellation was requested after disbursement and ignored: "
                "a disbursed loan ends only when repaid or written off",
            )
            await p.record("cancellation ignored")


async def _service_loop(p: Process) -> None:
    state, loan = p.state, p.state.loan
    terms = loan.terms
    assert terms is not None
    overdue_at = start_of_business_day(terms.overdue_from)
    while True:
        balance = loan.balance
        assert balance is not None
        if state.stage == Stage.WRITTEN_OFF and balance.total_due == ZERO:
            await close(p, "the written-off claim was recovered in full")
            return
        if state.stage in REPAYABLE_STAGES and balance.is_repaid:
            await close(p, "repaid in full")
            return
        if state.inbox.queue:
            await apply_money(p, state.inbox.queue[0])
            state.inbox.queue.pop(0)
            continue
        if write_off_pending(p):
            await _book_write_off(p)
            continue
        if state.stage == Stage.REPAYING and workflow.now() >= overdue_at:
            await _go_overdue(p, terms)
            continue
        await p.record(f"waiting in {state.stage}")
        timeout = (overdue_at - workflow.now()) if state.stage == Stage.REPAYING else None
        try:
            await workflow.wait_condition(
                lambda: bool(state.inbox.queue) or write_off_pending(p),
                timeout=timeout,
                timeout_summary="overdue check: day after maturity + grace",
            )
        except TimeoutError:
            pass


def write_off_pending(p: Process) -> bool:
    return p.state.loan.write_off is not None and p.state.stage == Stage.OVERDUE


async def apply_money(p: Process, money: QueuedMoney) -> None:
    """Tell the bank how the amount is split and book it (one activity), then keep the new
    balance and the message's outcome."""
    state, loan = p.state, p.state.loan
    terms, balance = loan.terms, loan.balance
    assert terms is not None and balance is not None
    source: Literal["treasury", "supplier", "recovery"]
    if state.stage == Stage.WRITTEN_OFF:
        allocation, source = allocate_recovery(balance, money.amount), "recovery"
    else:
        # in repayment, or repaid and closing (then everything is surplus)
        allocation = allocate(terms, balance, money.amount, money.paid_on, overdue=state.stage == Stage.OVERDUE)
        source = money.source
    try:
        await _apply_at_bank(p, money, source, allocation)
    except StepRefused as refused:
        # the bank will not take it (retrying cannot change that): kept and flagged, never wedged
        reason = (
            f"the bank refused to apply {money.source} payment {money.source_id} of {money.amount} "
            f"({refused.cause.message}); not credited — settle it with the bank"
        )
        messages.keep(p, money.key, f"unapplied:{money.source_id}", reason)
        return
    loan.balance = apply_allocation(balance, allocation)
    if source == "recovery":
        loan.recovered += allocation.amount - allocation.surplus
    state.inbox.settle(
        money.key,
        "applied",
        f"penalty {allocation.penalty}, interest {allocation.interest}, principal {allocation.principal}, "
        f"surplus {allocation.surplus}" + (" (recovery)" if source == "recovery" else ""),
        applied_at=workflow.now(),
        applied_as=source,
        penalty=allocation.penalty,
        interest=allocation.interest,
        principal=allocation.principal,
        surplus=allocation.surplus,
    )


async def _apply_at_bank(p: Process, money: QueuedMoney, source: str, allocation: Allocation) -> None:
    """Money moves: a regular activity (heartbeating), whose result the server keeps."""
    await p.step(
        steps.APPLY_REPAYMENT,
        steps.RepaymentOrder(
            application_id=p.inp.application_id,
            bank_code=p.inp.bank_code,
            contract_no=p.inp.request.contract_no,
            source=source,
            source_id=money.source_id,
            paid_on=money.paid_on,
            allocation=allocation,
        ),
        summary=f"apply {money.amount} ({money.source} {money.source_id}): penalty, interest, principal, surplus",
        remote=True,
    )


async def _go_overdue(p: Process, terms: LoanTerms) -> None:
    balance = p.state.loan.balance
    assert balance is not None
    reason = (
        f"overdue since {terms.overdue_from}: {balance.outstanding_principal} principal unpaid "
        f"after maturity {terms.maturity_date} + {terms.grace_days} grace days; penalty interest accrues"
    )
    p.flag("overdue", reason)
    p.enter(Stage.OVERDUE, waiting_for="repayment or the bank's write-off")
    await p.step(
        steps.SEND_OVERDUE_NOTICE,
        steps.OverdueNotice(
            application_id=p.inp.application_id,
            bank_code=p.inp.bank_code,
            contract_no=p.inp.request.contract_no,
            outstanding_principal=balance.outstanding_principal,
            overdue_since=terms.overdue_from,
        ),
    )


async def _book_write_off(p: Process) -> None:
    state, loan = p.state, p.state.loan
    terms, balance, write_off = loan.terms, loan.balance, loan.write_off
    assert terms is not None and balance is not None and write_off is not None
    # Fix the bank's claim at today's figures; recoveries are allocated against it.
    accrual = accrue(terms, balance, business_date(workflow.now()), penalty_mode=True)
    claim = accrue_into(balance, accrual)
    await p.step(
        steps.BOOK_WRITE_OFF,
        steps.WriteOffBooking(
            application_id=p.inp.application_id,
            bank_code=p.inp.bank_code,
            principal=claim.outstanding_principal,
            interest=claim.interest_due,
            penalty=claim.penalty_due,
            reason=write_off.reason,
        ),
    )
    loan.balance = claim
    state.final_reason = write_off.reason
    p.unflag("overdue")
    p.enter(Stage.WRITTEN_OFF, waiting_for="recoveries from treasury payments on the contract")


async def close(p: Process, reason: str) -> None:
    """Settled (or a written-off claim recovered): release the registration, restore the
    payee account and the treasury lock — the same steps as a compensation."""
    state = p.state
    final = Stage.SETTLED if state.stage in REPAYABLE_STAGES else Stage.WRITTEN_OFF
    for key in ("registration", "payee", "treasury"):
        saga.register(p, key)
    p.unflag("overdue")
    await saga.end(p, final, reason if final == Stage.SETTLED else (state.final_reason or reason), raise_=False)


async def finish(p: Process) -> None:
    """The process has ended; before it completes, every message it was given is settled:
    money that came while it closed is applied (a loan) or kept (no loan), and it stays open
    until ops acknowledged every message kept for a person."""
    state = p.state
    while True:
        while state.inbox.queue and state.loan.terms is not None:
            await apply_money(p, state.inbox.queue[0])
            state.inbox.queue.pop(0)
        if state.inbox.queue:
            messages.keep_unapplicable_money(p)
        if any(is_held_message(key) for key in state.attention):
            state.waiting_for = "ops to acknowledge what was kept for a person"
        else:
            state.waiting_for = None
        await p.record("ended" if state.waiting_for is None else "kept for a person")
        await workflow.wait_condition(
            lambda: (
                bool(state.inbox.queue)
                or (workflow.all_handlers_finished() and not any(is_held_message(k) for k in state.attention))
            )
        )
        if not state.inbox.queue:
            return
