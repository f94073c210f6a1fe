"""The financing workflow: one process per application, from verification to settlement.

    verifying ─▶ bank_review ─▶ account_lock ─▶ disbursing ─▶ repaying ─▶ settled
       │              │  │            │               │            │
    rejected     rejected expired   failed          failed      overdue ─▶ settled | written_off

`run` reads as the business process; the handlers are thin: a validator refuses what the
current stage cannot take (before it touches history), the handler hands the message to
the part that owns it and answers once the record shows the change.

Where things live: origination.py (verify, review, lock, payout), servicing.py (repayments,
overdue, write-off, closing), saga.py (undo), deadlines.py, messages.py (every message is
applied or kept for a person), process.py (transitions, steps, the record), state.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import workflow_api as names
    from domain.application import (
        ATTENTION_FIXES,
        AccountChangeEvent,
        ApplicationView,
        AttentionAcknowledgement,
        DeadlineExtension,
        Decision,
        FinancingInput,
        OfflineLockAnswer,
        OpsCancellation,
        Recorded,
        RepaymentReceipt,
        ResendToBank,
        SupplierRepayment,
        TreasuryPayment,
        Withdrawal,
        WriteOff,
        attention_kind,
        business_date,
        is_acknowledgeable,
    )
    from domain.errors import ErrorCode
    from domain.stages import REPAYABLE_STAGES, WITHDRAWABLE_STAGES, Stage
    from domain.verification import decision_problems, payment_date_problem, repayment_date_problem

from workflows.financing import messages, origination, saga, servicing
from workflows.financing.process import Ended, Process


@workflow.defn(name=names.WORKFLOW_TYPE)
class FinancingWorkflow:
    @workflow.init
    def __init__(self, inp: FinancingInput) -> None:
        self.p = Process(inp)

    @workflow.run
    async def run(self, inp: FinancingInput) -> Recorded:
        p = self.p
        try:
            await origination.verify(p)
            await origination.review(p)
            await origination.lock_account(p)
            await origination.disburse(p)
            await servicing.service(p)
        except Ended:
            pass
        except asyncio.CancelledError:
            # Cancelled from the UI or CLI before payout: undo what was done, end clearly.
            # (A live loan is never cancelled: servicing shields itself.)
            with contextlib.suppress(Ended):
                await saga.end(p, Stage.FAILED, "cancelled through Temporal before disbursement")
        await servicing.finish(p)
        return self._answer(p.view())

    # ------------------------------------------------------------------ queries

    @workflow.query(name=names.QUERY_VIEW)
    def view(self) -> ApplicationView:
        return self.p.view()

    # ------------------------------------------------------------------ the bank's submission and decision

    @workflow.update(name=names.UPDATE_SUBMISSION_OUTCOME)
    async def submission_outcome(self) -> Recorded:
        """The answer to POST /v1/applications: once the application is with the bank's
        review (and recorded), or the refusal with its stable code."""
        state = self.p.state
        await workflow.wait_condition(lambda: self._reviewing or state.verification.refusal is not None or state.closed)
        refusal = state.verification.refusal
        if refusal is not None:
            await workflow.wait_condition(lambda: state.closed)
            raise ApplicationError(refusal.detail, type=refusal.code.value, non_retryable=True)
        if self.p.written is None:
            return self._answer(self.p.view())  # ended before the review (withdrawn while verifying)
        return self._answer(self.p.written)

    @property
    def _reviewing(self) -> bool:
        written = self.p.written
        return written is not None and written.stage != Stage.VERIFYING

    @workflow.update(name=names.UPDATE_DECIDE)
    async def decide(self, decision: Decision) -> Recorded:
        self.p.state.review.decision = decision
        # An approval answers once the payee change was acknowledged (account_lock) and recorded.
        return self._answer(await self._answer_once_left(Stage.BANK_REVIEW))

    @decide.validator
    def _validate_decision(self, decision: Decision) -> None:
        self._require_stage({Stage.BANK_REVIEW}, "decide")
        state, inp = self.p.state, self.p.inp
        if state.review.decision is not None:
            raise _invalid_state("the bank has already decided this application")
        if inp.product is None:
            raise _invalid_state("the application has no product to decide on")
        problems = decision_problems(
            decision, inp.product, inp.request.requested_amount, state.verification.eligible_max
        )
        if problems:
            raise ApplicationError("; ".join(problems), type=ErrorCode.VALIDATION_ERROR.value, non_retryable=True)

    @workflow.update(name=names.UPDATE_WITHDRAW)
    async def withdraw(self, withdrawal: Withdrawal) -> Recorded:
        self.p.state.withdrawal = withdrawal
        return self._answer(await self._answer_once_ended_or_paid_out())

    @withdraw.validator
    def _validate_withdrawal(self, withdrawal: Withdrawal) -> None:
        self._require_stage(WITHDRAWABLE_STAGES, "withdraw")

    @workflow.update(name=names.UPDATE_CANCEL)
    async def cancel(self, cancellation: OpsCancellation) -> Recorded:
        self.p.state.cancellation = cancellation
        return self._answer(await self._answer_once_ended_or_paid_out())

    @cancel.validator
    def _validate_cancel(self, cancellation: OpsCancellation) -> None:
        self._require_stage(WITHDRAWABLE_STAGES, "cancel")

    # ------------------------------------------------------------------ the account lock

    @workflow.update(name=names.UPDATE_RECORD_OFFLINE_LOCK_ANSWER)
    async def record_offline_lock_answer(self, answer: OfflineLockAnswer) -> Recorded:
        lock = self.p.state.lock
        lock.offline, lock.answer, lock.answered_by = answer, answer.decision, "ops"
        return self._answer(await self._answer_once_left(Stage.ACCOUNT_LOCK))

    @record_offline_lock_answer.validator
    def _validate_offline_answer(self, answer: OfflineLockAnswer) -> None:
        self._require_stage({Stage.ACCOUNT_LOCK}, "record a lock answer")
        if self.p.state.lock.answer is not None:
            raise _invalid_state(f"the purchaser's answer was already recorded ({self.p.state.lock.answer})")

    @workflow.signal(name=names.SIGNAL_ACCOUNT_CHANGE)
    async def account_change(self, event: AccountChangeEvent) -> None:
        """The purchaser's online answer: taken, or kept for a person (never dropped)."""
        if messages.take_account_change(self.p, event):
            await self.p.record("purchaser's answer kept for a person")

    # ------------------------------------------------------------------ money

    @workflow.signal(name=names.SIGNAL_TREASURY_PAYMENT)
    async def treasury_payment(self, payment: TreasuryPayment) -> None:
        """A treasury payment on the contract: applied once the loan exists, or kept."""
        if messages.take_treasury_payment(self.p, payment):
            await self.p.record("treasury payment kept for a person")

    @workflow.update(name=names.UPDATE_REPORT_REPAYMENT)
    async def report_repayment(self, repayment: SupplierRepayment) -> RepaymentReceipt:
        state = self.p.state
        if state.loan.terms is None and not state.inbox.seen(f"supplier:{repayment.repayment_id}"):
            # Disbursing: the record may already show the loan while this task still replays
            # the payout's result (a worker died in between). Wait for the loan, then judge.
            await workflow.wait_condition(lambda: state.loan.terms is not None or state.closed)
            self._check_repayment(repayment)
        if not messages.take_supplier_repayment(self.p, repayment):
            return RepaymentReceipt(status="duplicate")
        await self.p.recorded_now("supplier repayment received")
        return RepaymentReceipt(status="accepted")

    @report_repayment.validator
    def _validate_repayment(self, repayment: SupplierRepayment) -> None:
        if self.p.state.inbox.seen(f"supplier:{repayment.repayment_id}"):
            return  # a duplicate is answered "duplicate" whatever the stage is now
        state = self.p.state
        if state.stage == Stage.DISBURSING and not state.closed:
            # taken, and judged against the loan once the payout is confirmed (the handler waits)
            problem = payment_date_problem(repayment.paid_on, business_date(workflow.now()))
            if problem:
                raise ApplicationError(problem, type=ErrorCode.VALIDATION_ERROR.value, non_retryable=True)
            return
        self._check_repayment(repayment)

    def _check_repayment(self, repayment: SupplierRepayment) -> None:
        """A repayment needs a loan that takes one, dated between its payout and today."""
        self._require_stage(REPAYABLE_STAGES, "report a repayment")
        terms = self.p.state.loan.terms
        assert terms is not None  # repayable stages have a loan
        problem = repayment_date_problem(repayment.paid_on, terms.disbursed_on, business_date(workflow.now()))
        if problem:
            raise ApplicationError(problem, type=ErrorCode.VALIDATION_ERROR.value, non_retryable=True)

    @workflow.update(name=names.UPDATE_WRITE_OFF)
    async def write_off(self, write_off: WriteOff) -> Recorded:
        self.p.state.loan.write_off = write_off
        # written_off is final yet the process stays open for recoveries: answer once booked
        return self._answer(await self.p.written_when(lambda v: v.stage != Stage.OVERDUE))

    @write_off.validator
    def _validate_write_off(self, write_off: WriteOff) -> None:
        self._require_stage({Stage.OVERDUE}, "write off")
        if self.p.state.loan.write_off is not None:
            raise _invalid_state("a write-off is already being booked")

    # ------------------------------------------------------------------ ops

    @workflow.update(name=names.UPDATE_EXTEND_DEADLINE)
    async def extend_deadline(self, extension: DeadlineExtension) -> Recorded:
        deadlines, now = self.p.state.deadlines, workflow.now()
        delta = timedelta(days=extension.days)
        if deadlines.attention_at is not None:
            deadlines.attention_at = max(deadlines.attention_at, now) + delta
        if deadlines.expiry_at is not None:
            deadlines.expiry_at = max(deadlines.expiry_at, now) + delta
        self.p.unflag("deadline")
        if extension.note:
            self.p.note(
                f"deadlines moved {extension.days} days by {saga.operator(extension.recorded_by)}: {extension.note}"
            )
        deadlines.moved = True
        return self._answer(await self.p.recorded_now("deadline extended"))

    @extend_deadline.validator
    def _validate_extension(self, extension: DeadlineExtension) -> None:
        self._require_stage({Stage.BANK_REVIEW, Stage.ACCOUNT_LOCK}, "extend a deadline")

    @workflow.update(name=names.UPDATE_RESEND_TO_BANK)
    async def resend_to_bank(self, resend: ResendToBank) -> Recorded:
        review = self.p.state.review
        review.resend_requested = True
        expected = review.resends + 1
        await workflow.wait_condition(
            lambda: (
                (review.resends >= expected and not review.resend_requested) or self.p.state.stage != Stage.BANK_REVIEW
            )
        )
        return self._answer(await self.p.recorded_now("sent to the bank again"))

    @resend_to_bank.validator
    def _validate_resend(self, resend: ResendToBank) -> None:
        self._require_stage({Stage.BANK_REVIEW}, "send to the bank again")
        review = self.p.state.review
        if review.decision is not None or review.resend_requested:
            raise _invalid_state("the bank has decided, or a resend is already under way")

    @workflow.update(name=names.UPDATE_ACKNOWLEDGE)
    async def acknowledge(self, ack: AttentionAcknowledgement) -> Recorded:
        """Ops dealt with a flag that needs judgement: remove it, keep their note in the
        timeline, and answer once the record shows it."""
        p = self.p
        if ack.reason in p.state.attention:
            p.unflag(ack.reason)
            p.note(f"{ack.reason} acknowledged by {saga.operator(ack.recorded_by)}: {ack.note}")
        return self._answer(await p.recorded_now("acknowledged"))

    @acknowledge.validator
    def _validate_acknowledgement(self, ack: AttentionAcknowledgement) -> None:
        attention = self.p.state.attention
        if ack.reason not in attention:
            if self.p.state.closed:
                raise _invalid_state("the application has ended; it takes no more changes")
            flagged = ", ".join(attention) or "none"
            raise _invalid_state(f"no attention flag {ack.reason!r} on this application (flagged now: {flagged})")
        if not is_acknowledgeable(ack.reason):
            fix = ATTENTION_FIXES.get(attention_kind(ack.reason), "it clears when its cause goes away")
            raise _invalid_state(f"the {ack.reason!r} flag cannot be acknowledged: {fix}")

    # ------------------------------------------------------------------ answering

    async def _answer_once_left(self, stage: Stage) -> ApplicationView:
        """Answer once the record shows the process left `stage` — and, into a final stage,
        once it finished undoing: the application as it will stay."""
        state = self.p.state
        await workflow.wait_condition(lambda: state.stage != stage and (not state.stage.is_final or state.closed))
        return await self.p.written_when(lambda v: v.stage != stage)

    async def _answer_once_ended_or_paid_out(self) -> ApplicationView:
        state = self.p.state
        await workflow.wait_condition(lambda: state.closed or state.loan.terms is not None)
        if self.p.written is None:
            return self.p.view()  # ended during verification: there is no record (_answer carries it)
        return await self.p.recorded_now("answered")

    def _answer(self, view: ApplicationView) -> Recorded:
        """An answer points at the record; it carries the view only when none was written."""
        written = self.p.written
        recorded = written is not None and (written.version > view.version or written == view)
        return Recorded.of(view, recorded=recorded)

    def _require_stage(self, allowed: set[Stage] | frozenset[Stage], action: str) -> None:
        stage = self.p.state.stage
        if stage not in allowed or self.p.state.closed:
            allowed_text = ", ".join(sorted(s.value for s in allowed))
            raise _invalid_state(f"cannot {action} in stage {stage} (only in {allowed_text})")


def _invalid_state(message: str) -> ApplicationError:
    return ApplicationError(message, type=ErrorCode.INVALID_STATE.value, non_retryable=True)
