"""Origination: verify → bank review → account lock → disbursement.

Each stage waits for what it needs and undoes nothing itself: a refusal, an expiry, a
withdrawal or a cancellation ends the process through the saga, which undoes every step
registered so far.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import steps
    from domain.application import business_date
    from domain.errors import BusinessRefusal, ErrorCode
    from domain.repayment import LoanTerms, open_balance
    from domain.stages import Stage
    from domain.verification import contract_eligible_maximum, contract_problem, decision_problems

from workflows.financing import saga
from workflows.financing.deadlines import review_deadlines, wait_in_stage
from workflows.financing.policies import (
    EXTERNAL_CALL,
    EXTERNAL_TIMEOUT,
    PAYOUT_HEARTBEAT,
    VERIFY_ATTEMPT,
    VERIFY_DEADLINE,
    VERIFY_RETRY,
)
from workflows.financing.process import Process, StepRefused

# A refused verification ends here; the API answers the bank with the refusal's code.
REFUSAL_STAGE = Stage.REJECTED


# ---------------------------------------------------------------------- verifying


async def verify(p: Process) -> None:
    inp, state = p.inp, p.state
    request = inp.request
    try:
        dossier = await workflow.execute_local_activity(
            steps.FETCH_DOSSIER,
            steps.DossierRequest(application_id=inp.application_id, contract_no=request.contract_no),
            result_type=steps.Dossier,
            start_to_close_timeout=VERIFY_ATTEMPT,
            schedule_to_close_timeout=VERIFY_DEADLINE,
            retry_policy=VERIFY_RETRY,
        )
    except (ActivityError, ApplicationError) as err:
        # a local activity's failure may surface as the ApplicationError itself
        await refuse(p, refusal_of(err, "the procurement system could not be reached"))
        return
    contract = dossier.dossier.contract
    verification = state.verification
    verification.district = contract.purchaser.district
    verification.supplier_name = contract.supplier.name
    verification.credit_profile = dossier.credit_profile
    holder = dossier.dossier.financing
    if holder is not None and holder.application_id != inp.application_id:
        await refuse(
            p,
            BusinessRefusal(
                ErrorCode.CONTRACT_ALREADY_FINANCED, f"contract {contract.contract_no} already has an active financing"
            ),
        )
        return
    if inp.product is not None:
        verification.eligible_max = contract_eligible_maximum(inp.product, contract, dossier.recorded_payments)
    problem = contract_problem(
        supplier_credit_code=request.supplier_credit_code,
        contract_supplier=contract.supplier.credit_code,
        status=contract.status,
        bank_code=inp.bank_code,
        product_code=request.product_code,
        product=inp.product,
        requested_amount=request.requested_amount,
        eligible_max=verification.eligible_max,
    )
    if problem is not None:
        await refuse(p, BusinessRefusal(ErrorCode.VALIDATION_ERROR, problem))
        return

    saga.register(p, "registration")
    state.waiting_for = "the financing registration"
    try:
        await p.step(
            steps.REGISTER_FINANCING,
            steps.Registration(
                application_id=inp.application_id,
                bank_code=inp.bank_code,
                contract_no=request.contract_no,
                supplier_credit_code=request.supplier_credit_code,
                amount=request.requested_amount,
                collection_account_no=request.collection_account.account_no,
            ),
        )
    except (ActivityError, StepRefused) as err:
        await refuse(p, refusal_of(err, "the financing could not be registered"))
        return
    if state.interrupted:
        await saga.end_interrupted(p)
    if inp.preapproved is not None:
        await preapprove(p)
        return
    try:
        await submit_for_review(p)
    except (ActivityError, StepRefused) as err:
        await refuse(p, refusal_of(err, "the bank's credit system refused the application"))
        return


async def submit_for_review(p: Process) -> None:
    """Hand the application to the bank's credit system; the stage becomes bank_review."""
    inp, state = p.inp, p.state
    verification = state.verification
    assert verification.credit_profile is not None and verification.eligible_max is not None
    saga.register(p, "review")
    await p.step(
        steps.SUBMIT_FOR_REVIEW,
        steps.ReviewSubmission(
            application_id=inp.application_id,
            bank_code=inp.bank_code,
            contract_no=inp.request.contract_no,
            product_code=inp.request.product_code,
            supplier_credit_code=inp.request.supplier_credit_code,
            supplier_name=verification.supplier_name or "",
            requested_amount=inp.request.requested_amount,
            eligible_maximum=verification.eligible_max,
            credit_profile=verification.credit_profile,
            resend=state.review.resends,
        ),
    )
    # each hand-over (a resend too) starts the review's deadlines afresh
    attention_at, expiry_at = review_deadlines(inp, workflow.now())
    verification.done = True
    p.enter(Stage.BANK_REVIEW, waiting_for="the bank's decision", attention_at=attention_at, expiry_at=expiry_at)


async def preapprove(p: Process) -> None:
    """The supplier accepted this bank's offer on its financing request: once verified, the
    application is approved at the offer's terms (checked as a decision is, against what
    verification found) and goes on to the account lock. The bank made its review when it
    offered, so nothing is sent to its credit system. No command is issued here: histories
    from before the supplier's channel never take this branch, and replay as they ran."""
    inp, state = p.inp, p.state
    offer, verification = inp.preapproved, state.verification
    assert offer is not None and inp.product is not None  # no product: refused by contract_problem
    decision = offer.decision()
    problems = decision_problems(decision, inp.product, inp.request.requested_amount, verification.eligible_max)
    if problems:
        await refuse(p, BusinessRefusal(ErrorCode.VALIDATION_ERROR, "the offer no longer fits: " + "; ".join(problems)))
        return
    verification.done = True
    state.review.decision = decision
    p.note(
        f"approved at the terms of offer {offer.offer_id} ({offer.approved_amount} at {offer.annual_rate} for "
        f"{offer.term_days} days), accepted by the supplier on financing request {offer.request_id}"
    )


async def refuse(p: Process, refusal: BusinessRefusal) -> None:
    """Verification refused the application: undo anything done, answer the bank."""
    p.state.verification.refusal = refusal
    await saga.end(p, REFUSAL_STAGE, refusal.detail)


# ---------------------------------------------------------------------- bank_review


async def review(p: Process) -> None:
    state = p.state
    if p.inp.preapproved is not None:
        return  # approved at the accepted offer's terms (preapprove)
    while True:
        decided = await wait_in_stage(
            p,
            lambda: state.review.decision is not None or state.review.resend_requested,
            attention="no decision from the bank within the review SLA",
        )
        if not decided:
            await saga.end(p, Stage.EXPIRED, "the bank did not decide before the review deadline")
        if state.review.decision is None and state.review.resend_requested:
            p.unflag("deadline")
            state.review.resends += 1
            try:
                await submit_for_review(p)
            except (ActivityError, StepRefused) as err:
                detail = refusal_of(err, "the bank's credit system refused the application sent again").detail
                await saga.end(p, Stage.REJECTED, detail)
            state.review.resend_requested = False
            continue
        break
    decision = state.review.decision
    assert decision is not None
    if decision.decision == "reject":
        saga.drop(p, "review")  # the bank ended its own review
        await saga.end(p, Stage.REJECTED, decision.reason or "rejected by the bank")


# ---------------------------------------------------------------------- account_lock


async def lock_account(p: Process) -> None:
    inp, state = p.inp, p.state
    account = inp.request.collection_account
    saga.register(p, "payee")
    now = workflow.now()
    try:
        await p.step(
            steps.REQUEST_PAYEE_CHANGE,
            steps.PayeeChange(
                application_id=inp.application_id,
                contract_no=inp.request.contract_no,
                account_no=account.account_no,
                account_name=account.account_name,
                bank_code=inp.bank_code,
            ),
            result_type=steps.PayeeChangeAck,
        )
    except (ActivityError, StepRefused) as err:
        await saga.end(p, Stage.FAILED, refusal_of(err, "the payee account change was refused").detail)
    p.enter(
        Stage.ACCOUNT_LOCK,
        waiting_for="the purchaser's confirmation of the payee account change",
        attention_at=now + timedelta(days=inp.deadlines.lock_attention_days),
        expiry_at=now + timedelta(days=inp.deadlines.lock_expiry_days),
    )
    # a confirmation that came while the change was being requested is already taken
    answered = await wait_in_stage(
        p,
        lambda: state.lock.answer is not None,
        attention="the purchaser has not answered the payee account change",
    )
    if not answered:
        await saga.end(p, Stage.FAILED, "the purchaser did not confirm the payee account change in time")
    offline = state.lock.offline
    if offline is not None:
        try:
            await p.step(
                steps.RECORD_OFFLINE_ANSWER,
                steps.OfflineAnswerRecord(
                    application_id=inp.application_id,
                    contract_no=inp.request.contract_no,
                    decision=offline.decision,
                    note=offline.note,
                ),
            )
        except (ActivityError, StepRefused) as err:
            # the payee change is not in effect without the procurement system's record
            detail = refusal_of(err, "the procurement system refused the offline answer").detail
            await saga.end(p, Stage.FAILED, detail)
    if state.lock.answer == "refused":
        await saga.end(p, Stage.FAILED, "the purchaser refused the payee account change")
    if state.interrupted:
        await saga.end_interrupted(p)

    saga.register(p, "treasury")
    p.enter(Stage.DISBURSING, waiting_for="the treasury to register the locked account")
    try:
        await p.step(
            steps.LOCK_PAYEE_ACCOUNT,
            steps.TreasuryLock(
                application_id=inp.application_id,
                contract_no=inp.request.contract_no,
                account_no=account.account_no,
                bank_code=inp.bank_code,
            ),
        )
    except (ActivityError, StepRefused) as err:
        # no payout into an account the treasury will not pay into
        detail = refusal_of(err, "the treasury refused to register the locked account").detail
        await saga.end(p, Stage.FAILED, detail)


# ---------------------------------------------------------------------- disbursing


async def disburse(p: Process) -> None:
    inp, state = p.inp, p.state
    decision = state.review.decision
    assert decision is not None and decision.approved_amount is not None and inp.product is not None
    assert decision.annual_rate is not None and decision.term_days is not None
    state.waiting_for = "the bank's core system to pay out the loan"
    task = asyncio.ensure_future(
        workflow.execute_activity(
            steps.DISBURSE,
            steps.DisbursementOrder(
                application_id=inp.application_id,
                bank_code=inp.bank_code,
                contract_no=inp.request.contract_no,
                supplier_credit_code=inp.request.supplier_credit_code,
                district=state.verification.district or "",
                amount=decision.approved_amount,
                account_no=inp.request.collection_account.account_no,
                account_name=inp.request.collection_account.account_name,
            ),
            result_type=steps.DisbursementReceipt,
            start_to_close_timeout=EXTERNAL_TIMEOUT,
            heartbeat_timeout=PAYOUT_HEARTBEAT,  # a worker that died mid-payout is noticed in seconds
            retry_policy=EXTERNAL_CALL,
            summary=f"pay out {decision.approved_amount} to the collection account",
        )
    )
    try:
        receipt = await _await_payout(p, task)
    except ActivityError as err:
        await saga.end(p, Stage.FAILED, refusal_of(err, "the bank refused the disbursement").detail)
        return
    # the loan starts on the business date the bank confirmed the payout
    disbursed_on = business_date(workflow.now())
    terms = LoanTerms(
        principal=decision.approved_amount,
        annual_rate=decision.annual_rate,
        penalty_multiplier=inp.product.penalty_multiplier,
        disbursed_on=disbursed_on,
        maturity_date=disbursed_on + timedelta(days=decision.term_days),
        grace_days=inp.product.grace_days,
    )
    state.loan.disbursement_id = receipt.disbursement_id
    state.loan.terms, state.loan.balance = terms, open_balance(terms)
    p.unflag("disbursement")
    state.undo.clear()  # money is out: from here the loan lives until repaid or written off
    p.enter(Stage.REPAYING, waiting_for=repaying_wait(terms))


async def _await_payout(p: Process, task: asyncio.Future[steps.DisbursementReceipt]) -> steps.DisbursementReceipt:
    """Wait for the payout; past the attention deadline, flag it. A cancellation request does
    not stop a payout in flight: the bank may already have paid."""
    patience = timedelta(minutes=p.inp.deadlines.disbursement_attention_minutes)
    while not task.done():
        try:
            done, _ = await workflow.wait([task], timeout=patience.total_seconds())
        except asyncio.CancelledError:
            p.flag("cancel", "cancellation was requested while the payout was in flight; ignored")
            await p.record("cancellation ignored")
            continue
        if not done and "disbursement" not in p.state.attention:
            p.flag("disbursement", "the bank has not confirmed the payout yet; it is being retried")
            await p.record("payout unconfirmed")
    return task.result()


def repaying_wait(terms: LoanTerms) -> str:
    return f"repayment by {terms.maturity_date} (overdue from {terms.overdue_from})"


def refusal_of(err: ActivityError | ApplicationError | StepRefused, fallback: str) -> BusinessRefusal:
    cause = err if isinstance(err, ApplicationError) else err.cause
    if isinstance(cause, ApplicationError) and cause.type:
        try:
            return BusinessRefusal(ErrorCode(cause.type), cause.message)
        except ValueError:
            pass
    return BusinessRefusal(ErrorCode.UPSTREAM_UNAVAILABLE, f"{fallback}: {cause or err}")
