"""The financing workflow: one process per application, from verification to settlement.

    verifying ─▶ bank_review ─▶ account_lock ─▶ disbursing ─▶ repaying ─▶ settled
       │              │  │            │               │            │
    rejected     rejected expired   failed          failed      overdue ─▶ settled | written_off

Orchestration only: every side effect is an activity named in `domain.steps`, every money
rule lives in `domain.repayment`. Readers see the process three ways, all kept current here:
the `view` query, the read model (written by the step that causes a change, see
`domain.steps.Step.view_after`), and the search attributes / current details in the UI.

Saga: before each step with a side effect, its undo is registered; a refusal, expiry,
withdrawal or cancellation before disbursement runs every registered undo and ends in a
final stage that says what happened. After disbursement nothing is undone: the loan lives
until it is repaid (settled) or written off.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import steps
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
        RepaymentReceipt,
        ResendToBank,
        SupplierRepayment,
        TimelineEntry,
        TreasuryPayment,
        Withdrawal,
        WriteOff,
        attention_items,
        attention_kind,
        business_date,
        is_acknowledgeable,
        start_of_business_day,
    )
    from domain.contracts import ContractStatus
    from domain.credit_profile import CreditProfile
    from domain.errors import BusinessRefusal, ErrorCode
    from domain.money import ZERO
    from domain.products import Product, eligible_maximum, known_paid
    from domain.repayment import (
        Allocation,
        LoanBalance,
        LoanTerms,
        accrue,
        accrue_into,
        allocate,
        allocate_recovery,
        apply_allocation,
        open_balance,
    )
    from domain.stages import (
        PAYMENT_ACCEPTING_STAGES,
        REPAYABLE_STAGES,
        WITHDRAWABLE_STAGES,
        Stage,
    )
    from workflows import search_attributes as sa

# Calls to the external systems: idempotent, so retried with backoff for as long as it takes
# (a bank that is down for an hour delays a loan, it does not fail it). Business refusals are
# raised non-retryable by the activities and end the step at once.
EXTERNAL_CALL = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)
EXTERNAL_TIMEOUT = timedelta(seconds=30)
# Verification answers a waiting bank: retry briefly, then give a clear refusal.
VERIFY_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=2))
VERIFY_DEADLINE = timedelta(seconds=30)
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10))

REFUSAL_STAGE_FOR_VERIFICATION = Stage.REJECTED


# The compensations, by key: each is registered before the step it undoes, and settlement
# registers them again as its closing steps. key -> (activity, summary shown in the UI)
UNDO_STEPS: dict[str, tuple[str, str]] = {
    "registration": (steps.RELEASE_FINANCING, "release the financing registration"),
    "review": (steps.CANCEL_REVIEW, "withdraw the application from the bank's review"),
    "payee": (steps.RESTORE_PAYEE_ACCOUNT, "restore the contract's payee account"),
    "treasury": (steps.UNLOCK_PAYEE_ACCOUNT, "release the treasury's payee-account lock"),
}


@dataclass
class _Money:
    """An amount received, queued so repayments are applied one at a time, in arrival order."""

    source: Literal["treasury", "supplier"]
    source_id: str
    amount: Decimal
    paid_on: date


class _Ended(Exception):
    """Raised inside the workflow when the process reached a final stage early."""


@workflow.defn(name=names.WORKFLOW_TYPE)
class FinancingWorkflow:
    @workflow.init
    def __init__(self, inp: FinancingInput) -> None:
        self._inp = inp
        self._app_id = inp.application_id
        self._stage = Stage.VERIFYING
        self._stage_since = workflow.now()
        self._timeline: list[TimelineEntry] = [TimelineEntry(stage=Stage.VERIFYING, at=workflow.now())]
        self._version = 0
        self._waiting_for: str | None = "the procurement system: contract and supplier history"
        self._attention: dict[str, str] = {}
        self._attention_at: datetime | None = None
        self._expiry_at: datetime | None = None
        self._deadlines_moved = False
        self._final_reason: str | None = None
        self._closed = False  # final stage reached and every closing step done
        # verification
        self._verified = False
        self._refusal: BusinessRefusal | None = None
        self._district: str | None = None
        self._supplier_name: str | None = None
        self._credit_profile: CreditProfile | None = None
        self._eligible_max: Decimal | None = None
        self._resends = 0
        self._resend_requested = False
        # the bank's decision and the account lock
        self._decision: Decision | None = None
        self._lock_answer: str | None = None  # "confirmed" | "refused"
        self._lock_answer_offline: OfflineLockAnswer | None = None
        self._seen_events: set[str] = set()
        # interruptions
        self._withdrawal: Withdrawal | None = None
        self._cancellation: OpsCancellation | None = None
        self._undo: list[str] = []  # keys of UNDO_STEPS, in registration order
        # the loan
        self._terms: LoanTerms | None = None
        self._balance: LoanBalance | None = None
        self._disbursement_id: str | None = None
        self._queue: list[_Money] = []
        self._seen_money: set[str] = set()
        self._write_off: WriteOff | None = None
        self._recovered = ZERO
        self._previewing = False
        self._recorded_version = 0

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, inp: FinancingInput) -> ApplicationView:
        try:
            await self._verify()
            await self._review()
            await self._lock_account()
            await self._disburse()
            await self._repay()
        except _Ended:
            pass
        except asyncio.CancelledError:
            # Cancelled from the UI or CLI: undo what was done, end in a clear stage.
            if self._terms is not None:
                raise  # cannot happen: _repay shields itself; a live loan is never cancelled
            with contextlib.suppress(_Ended):
                await self._end(Stage.FAILED, "cancelled through Temporal before disbursement")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    # ------------------------------------------------------------------ verifying

    async def _verify(self) -> None:
        inp = self._inp
        request = inp.request
        try:
            dossier = await workflow.execute_local_activity(
                steps.FETCH_DOSSIER,
                steps.DossierRequest(application_id=self._app_id, contract_no=request.contract_no),
                result_type=steps.Dossier,
                start_to_close_timeout=timedelta(seconds=10),
                schedule_to_close_timeout=VERIFY_DEADLINE,
                retry_policy=VERIFY_RETRY,
                summary="read the contract, the supplier's history and any registered financing",
            )
        except (ActivityError, ApplicationError) as err:
            # a local activity's failure may surface as the ApplicationError itself
            await self._refuse(_refusal_of(err, "the procurement system could not be reached"))
            return
        contract = dossier.dossier.contract
        self._district = contract.purchaser.district
        self._supplier_name = contract.supplier.name
        self._credit_profile = dossier.credit_profile
        holder = dossier.dossier.financing
        if holder is not None and holder.application_id != self._app_id:
            await self._refuse(
                BusinessRefusal(
                    ErrorCode.CONTRACT_ALREADY_FINANCED,
                    f"contract {contract.contract_no} already has an active financing",
                )
            )
            return
        problem = _contract_problem(inp, contract.supplier.credit_code, contract.status, inp.product)
        if problem is None and inp.product is not None:
            paid = known_paid(contract.paid_amount, dossier.recorded_payments)
            self._eligible_max = eligible_maximum(inp.product, contract.amount, paid)
            if request.requested_amount > self._eligible_max:
                problem = (
                    f"requested_amount {request.requested_amount} is above the eligible maximum "
                    f"{self._eligible_max} ({inp.product.max_ratio} of the unpaid contract balance)"
                )
        if problem is not None:
            await self._refuse(BusinessRefusal(ErrorCode.VALIDATION_ERROR, problem))
            return
        self._upsert_search_attributes()

        self._register_undo("registration")
        self._waiting_for = "the financing registration"
        try:
            await self._step(
                steps.REGISTER_FINANCING,
                steps.Registration(
                    application_id=self._app_id,
                    bank_code=inp.bank_code,
                    contract_no=request.contract_no,
                    supplier_credit_code=request.supplier_credit_code,
                    amount=request.requested_amount,
                ),
                "register the financing on the contract (platform registry and procurement system)",
            )
        except ActivityError as err:
            await self._refuse(_refusal_of(err, "the financing could not be registered"))
            return
        if self._withdrawal or self._cancellation:
            await self._end_interrupted()
        await self._submit_for_review()
        self._verified = True

    async def _submit_for_review(self, resend: int = 0) -> None:
        """Hand the application to the bank's credit system; the stage becomes bank_review."""
        assert self._credit_profile is not None and self._eligible_max is not None
        inp = self._inp
        self._register_undo("review")
        sla_days = inp.product.review_sla_days if inp.product else 7
        attention_at = workflow.now() + timedelta(days=sla_days)
        expiry_at = workflow.now() + timedelta(days=max(inp.deadlines.review_expiry_days, sla_days))
        await self._step(
            steps.SUBMIT_FOR_REVIEW,
            steps.ReviewSubmission(
                application_id=self._app_id,
                bank_code=inp.bank_code,
                contract_no=inp.request.contract_no,
                product_code=inp.request.product_code,
                supplier_credit_code=inp.request.supplier_credit_code,
                supplier_name=self._supplier_name or "",
                requested_amount=inp.request.requested_amount,
                eligible_maximum=self._eligible_max,
                credit_profile=self._credit_profile,
                resend=resend,
            ),
            "send the application to the bank's credit review",
            after=lambda: self._enter(
                Stage.BANK_REVIEW,
                waiting_for="the bank's decision",
                attention_at=attention_at,
                expiry_at=expiry_at,
            ),
        )

    async def _refuse(self, refusal: BusinessRefusal) -> None:
        """Verification refused the application: undo anything done, answer the bank."""
        self._refusal = refusal
        await self._end(REFUSAL_STAGE_FOR_VERIFICATION, refusal.detail, record=False)

    # ------------------------------------------------------------------ bank_review

    async def _review(self) -> None:
        while True:
            decided = await self._wait_in_stage(
                lambda: self._decision is not None or self._resend_requested,
                attention="no decision from the bank within the review SLA",
            )
            if not decided:
                await self._end(Stage.EXPIRED, "the bank did not decide before the review deadline")
            if self._resend_requested:
                self._attention.pop("deadline", None)
                await self._submit_for_review(resend=self._resends + 1)
                self._resends += 1
                self._resend_requested = False
                continue
            break
        decision = self._decision
        assert decision is not None
        if decision.decision == "reject":
            self._drop_undo("review")  # the bank ended its own review
            await self._end(Stage.REJECTED, decision.reason or "rejected by the bank")

    # ------------------------------------------------------------------ account_lock

    async def _lock_account(self) -> None:
        inp = self._inp
        account = inp.request.collection_account
        self._register_undo("payee")
        attention_at = workflow.now() + timedelta(days=inp.deadlines.lock_attention_days)
        expiry_at = workflow.now() + timedelta(days=inp.deadlines.lock_expiry_days)
        try:
            await self._step(
                steps.REQUEST_PAYEE_CHANGE,
                steps.PayeeChange(
                    application_id=self._app_id,
                    contract_no=inp.request.contract_no,
                    account_no=account.account_no,
                    account_name=account.account_name,
                    bank_code=inp.bank_code,
                ),
                "ask the procurement system to make the collection account the payee account",
                after=lambda: self._enter(
                    Stage.ACCOUNT_LOCK,
                    waiting_for="the purchaser's confirmation of the payee account change",
                    attention_at=attention_at,
                    expiry_at=expiry_at,
                ),
                result_type=steps.PayeeChangeAck,
            )
        except ActivityError as err:
            await self._end(Stage.FAILED, _refusal_of(err, "the payee account change was refused").detail)
        answered = await self._wait_in_stage(
            lambda: self._lock_answer is not None,
            attention="the purchaser has not answered the payee account change",
        )
        if not answered:
            await self._end(Stage.FAILED, "the purchaser did not confirm the payee account change in time")
        offline = self._lock_answer_offline
        if offline is not None:
            await self._step(
                steps.RECORD_OFFLINE_ANSWER,
                steps.OfflineAnswerRecord(
                    application_id=self._app_id,
                    contract_no=inp.request.contract_no,
                    decision=offline.decision,
                    note=offline.note,
                ),
                "record the purchaser's offline answer in the procurement system",
            )
        if self._lock_answer == "refused":
            await self._end(Stage.FAILED, "the purchaser refused the payee account change")
        if self._withdrawal or self._cancellation:
            await self._end_interrupted()

        self._register_undo("treasury")
        self._enter(Stage.DISBURSING, waiting_for="the treasury to register the locked account")
        await self._step(
            steps.LOCK_PAYEE_ACCOUNT,
            steps.TreasuryLock(
                application_id=self._app_id,
                contract_no=inp.request.contract_no,
                account_no=account.account_no,
                bank_code=inp.bank_code,
            ),
            "register the locked payee account with the treasury",
        )

    # ------------------------------------------------------------------ disbursing

    async def _disburse(self) -> None:
        inp = self._inp
        decision = self._decision
        assert decision is not None and decision.approved_amount is not None
        assert decision.annual_rate is not None and decision.term_days is not None and inp.product
        self._waiting_for = "the bank's core system to pay out the loan"
        disbursed_on = business_date(workflow.now())
        terms = LoanTerms(
            principal=decision.approved_amount,
            annual_rate=decision.annual_rate,
            penalty_multiplier=inp.product.penalty_multiplier,
            disbursed_on=disbursed_on,
            maturity_date=disbursed_on + timedelta(days=decision.term_days),
            grace_days=inp.product.grace_days,
        )
        view_after = self._preview(lambda: self._start_loan(terms), Stage.REPAYING, waiting_for=_repaying_wait(terms))
        order = steps.DisbursementOrder(
            application_id=self._app_id,
            bank_code=inp.bank_code,
            contract_no=inp.request.contract_no,
            supplier_credit_code=inp.request.supplier_credit_code,
            district=self._district or "",
            amount=decision.approved_amount,
            account_no=inp.request.collection_account.account_no,
            account_name=inp.request.collection_account.account_name,
            view_after=view_after,
        )
        task = asyncio.ensure_future(
            workflow.execute_activity(
                steps.DISBURSE,
                order,
                result_type=steps.DisbursementReceipt,
                start_to_close_timeout=EXTERNAL_TIMEOUT,
                retry_policy=EXTERNAL_CALL,
                summary=f"pay out {decision.approved_amount} to the collection account",
            )
        )
        try:
            receipt = await self._await_payout(task)
        except ActivityError as err:
            await self._end(Stage.FAILED, _refusal_of(err, "the bank refused the disbursement").detail)
            return
        self._disbursement_id = receipt.disbursement_id
        self._attention.pop("disbursement", None)
        self._undo.clear()  # money is out: from here the loan lives until repaid or written off
        self._start_loan(terms)
        self._enter(Stage.REPAYING, waiting_for=_repaying_wait(terms))
        self._mark_recorded(view_after)

    async def _await_payout(self, task: asyncio.Future[steps.DisbursementReceipt]) -> steps.DisbursementReceipt:
        """Wait for the payout; past the attention deadline, flag it. A cancellation request
        does not stop a payout in flight: the bank may already have paid."""
        patience = timedelta(minutes=self._inp.deadlines.disbursement_attention_minutes)
        while not task.done():
            try:
                done, _ = await workflow.wait([task], timeout=patience.total_seconds())
            except asyncio.CancelledError:
                self._flag("cancel", "cancellation was requested while the payout was in flight; ignored")
                continue
            if not done and "disbursement" not in self._attention:
                self._flag("disbursement", "the bank has not confirmed the payout yet; it is being retried")
                await self._record("attention")
        return task.result()

    def _start_loan(self, terms: LoanTerms) -> None:
        self._terms = terms
        self._balance = open_balance(terms)

    # ------------------------------------------------------------------ repaying / overdue

    async def _repay(self) -> None:
        while True:
            try:
                await self._repay_loop()
                return
            except asyncio.CancelledError:
                # A live loan cannot be cancelled: the money is out. Say so and carry on.
                self._flag(
                    "cancel",
                    "cancellation was requested after disbursement and ignored: "
                    "a disbursed loan ends only when repaid or written off",
                )
                await self._record("attention")

    async def _repay_loop(self) -> None:
        terms = self._terms
        assert terms is not None
        overdue_at = start_of_business_day(terms.overdue_from)
        while True:
            balance = self._balance
            assert balance is not None
            if self._stage == Stage.WRITTEN_OFF and balance.total_due == ZERO:
                await self._close("the written-off claim was recovered in full")
                return
            if self._stage in REPAYABLE_STAGES and balance.is_repaid:
                await self._close("repaid in full")
                return
            if self._queue:
                await self._apply_money(self._queue[0])
                self._queue.pop(0)
                continue
            if self._write_off is not None and self._write_off_pending:
                await self._book_write_off(self._write_off)
                continue
            if self._stage == Stage.REPAYING and workflow.now() >= overdue_at:
                await self._go_overdue(terms)
                continue
            timeout = (overdue_at - workflow.now()) if self._stage == Stage.REPAYING else None
            try:
                await workflow.wait_condition(
                    lambda: bool(self._queue) or self._write_off_pending or self._dirty,
                    timeout=timeout,
                    timeout_summary="overdue check: day after maturity + grace",
                )
            except TimeoutError:
                pass
            if self._dirty:
                await self._record("attention")

    async def _apply_money(self, money: _Money) -> None:
        terms, balance = self._terms, self._balance
        assert terms is not None and balance is not None
        if self._stage == Stage.WRITTEN_OFF:
            allocation = allocate_recovery(balance, money.amount)
            source: Literal["treasury", "supplier", "recovery"] = "recovery"
        else:
            allocation = allocate(terms, balance, money.amount, money.paid_on, overdue=self._stage == Stage.OVERDUE)
            source = money.source
        after = apply_allocation(balance, allocation)
        view_after = self._preview(lambda: self._book(after, allocation, source), None)
        await self._step(
            steps.APPLY_REPAYMENT,
            steps.RepaymentOrder(
                application_id=self._app_id,
                bank_code=self._inp.bank_code,
                contract_no=self._inp.request.contract_no,
                source=source,
                source_id=money.source_id,
                paid_on=money.paid_on,
                allocation=allocation,
                view_after=view_after,
            ),
            f"apply {money.amount} ({money.source} {money.source_id}): penalty, interest, principal, surplus",
            record_view=False,
        )
        self._book(after, allocation, source)
        self._mark_recorded(view_after)

    def _book(self, after: LoanBalance, allocation: Allocation, source: str) -> None:
        self._balance = after
        if source == "recovery":
            self._recovered += allocation.amount - allocation.surplus
        self._version += 1

    async def _go_overdue(self, terms: LoanTerms) -> None:
        balance = self._balance
        assert balance is not None
        reason = (
            f"overdue since {terms.overdue_from}: {balance.outstanding_principal} principal unpaid "
            f"after maturity {terms.maturity_date} + {terms.grace_days} grace days; penalty interest accrues"
        )
        self._flag("overdue", reason)
        view_after = self._preview(lambda: None, Stage.OVERDUE, waiting_for="repayment or the bank's write-off")
        await self._step(
            steps.SEND_OVERDUE_NOTICE,
            steps.OverdueNotice(
                application_id=self._app_id,
                bank_code=self._inp.bank_code,
                contract_no=self._inp.request.contract_no,
                outstanding_principal=balance.outstanding_principal,
                overdue_since=terms.overdue_from,
                view_after=view_after,
            ),
            "tell the bank the loan is overdue",
            record_view=False,
        )
        self._enter(Stage.OVERDUE, waiting_for="repayment or the bank's write-off")
        self._mark_recorded(view_after)

    async def _book_write_off(self, write_off: WriteOff) -> None:
        terms, balance = self._terms, self._balance
        assert terms is not None and balance is not None
        # Fix the bank's claim at today's figures; recoveries are allocated against it.
        accrual = accrue(terms, balance, business_date(workflow.now()), penalty_mode=True)
        claim = accrue_into(balance, accrual)
        self._attention.pop("overdue", None)
        view_after = self._preview(
            lambda: setattr(self, "_balance", claim),
            Stage.WRITTEN_OFF,
            waiting_for="recoveries from treasury payments on the contract",
        )
        await self._step(
            steps.BOOK_WRITE_OFF,
            steps.WriteOffBooking(
                application_id=self._app_id,
                bank_code=self._inp.bank_code,
                principal=claim.outstanding_principal,
                interest=claim.interest_due,
                penalty=claim.penalty_due,
                reason=write_off.reason,
                view_after=view_after,
            ),
            "book the write-off in the ledger",
            record_view=False,
        )
        self._balance = claim
        self._final_reason = write_off.reason
        self._enter(Stage.WRITTEN_OFF, waiting_for="recoveries from treasury payments on the contract")
        self._mark_recorded(view_after)

    async def _close(self, reason: str) -> None:
        """Settled (or a written-off claim recovered): release the registration, restore the
        payee account and the treasury lock — the same steps as a compensation."""
        final = Stage.SETTLED if self._stage in REPAYABLE_STAGES else Stage.WRITTEN_OFF
        self._register_undo("registration")
        self._register_undo("payee")
        self._register_undo("treasury")
        self._attention.pop("overdue", None)
        await self._end(final, reason if final == Stage.SETTLED else (self._final_reason or reason), raise_=False)

    # ------------------------------------------------------------------ ending and undoing

    async def _end(
        self,
        stage: Stage,
        reason: str,
        *,
        record: bool = True,
        raise_: bool = True,
    ) -> None:
        """Reach a final stage: run every registered undo (in parallel, each retried until it
        succeeds), then stop. `record=False` keeps a refused submission out of the read model."""
        if self._closed:
            raise _Ended
        self._final_reason = reason
        self._attention.clear()
        self._attention_at = self._expiry_at = None
        undo, self._undo = list(reversed(self._undo)), []
        self._version += 1
        self._set_stage(stage, waiting_for=None)
        view = self._view() if record else None
        self._upsert_search_attributes()
        self._mark_recorded(view)
        if undo:
            workflow.logger.info("%s: undoing %d steps: %s", stage, len(undo), reason)
            await asyncio.gather(
                *(
                    workflow.execute_activity(
                        UNDO_STEPS[key][0],
                        self._undo_input(key, reason, view),
                        start_to_close_timeout=EXTERNAL_TIMEOUT,
                        retry_policy=EXTERNAL_CALL,
                        summary=UNDO_STEPS[key][1],
                    )
                    for key in undo
                )
            )
        elif record and view is not None:
            await self._record("final", bump=False)
        self._closed = True
        workflow.set_current_details(f"**{stage}** — {reason}")
        if raise_:
            raise _Ended

    async def _end_interrupted(self) -> None:
        if self._cancellation is not None:
            await self._end(
                Stage.FAILED, f"cancelled by {_operator(self._cancellation.recorded_by)}: {self._cancellation.reason}"
            )
        reason = (self._withdrawal.reason if self._withdrawal else None) or "withdrawn by the bank"
        await self._end(Stage.WITHDRAWN, reason)

    def _register_undo(self, key: str) -> None:
        if key not in self._undo:
            self._undo.append(key)

    def _drop_undo(self, key: str) -> None:
        self._undo = [k for k in self._undo if k != key]

    def _undo_input(self, key: str, reason: str, view: ApplicationView | None) -> steps.Step:
        ids: dict[str, Any] = {"application_id": self._app_id, "reason": reason, "view_after": view}
        if key == "review":
            return steps.ReviewCancellation(bank_code=self._inp.bank_code, **ids)
        model = {"registration": steps.Release, "payee": steps.PayeeRestore, "treasury": steps.TreasuryUnlock}[key]
        return model(contract_no=self._inp.request.contract_no, **ids)

    # ------------------------------------------------------------------ waiting with deadlines

    async def _wait_in_stage(self, done: Callable[[], bool], *, attention: str) -> bool:
        """Wait until `done()`; flag the process for attention past the stage's attention
        deadline, give up (False) past its expiry. Withdrawal and cancellation end the wait and
        the process. Ops may move the deadlines while this waits."""
        while True:
            if self._withdrawal or self._cancellation:
                await self._end_interrupted()
            if done():
                self._attention.pop("deadline", None)
                return True
            now = workflow.now()
            if self._expiry_at is not None and now >= self._expiry_at:
                return False
            if self._attention_at is not None and now >= self._attention_at and "deadline" not in self._attention:
                self._flag("deadline", f"{attention} (deadline {self._attention_at:%Y-%m-%d %H:%M} UTC passed)")
                await self._record("attention")
                continue
            upcoming = [
                t
                for t in (
                    self._attention_at if "deadline" not in self._attention else None,
                    self._expiry_at,
                )
                if t is not None
            ]
            timeout = (min(upcoming) - now) if upcoming else None
            self._deadlines_moved = False
            try:
                await workflow.wait_condition(
                    lambda: (
                        done()
                        or self._withdrawal is not None
                        or self._cancellation is not None
                        or self._deadlines_moved
                        or self._dirty
                    ),
                    timeout=timeout,
                    timeout_summary=f"{self._stage} deadline",
                )
            except TimeoutError:
                pass
            if self._dirty:
                await self._record("attention")

    # ------------------------------------------------------------------ steps and records

    async def _step(
        self,
        activity: str,
        order: steps.Step,
        summary: str,
        *,
        after: Callable[[], None] | None = None,
        result_type: type | None = None,
        record_view: bool = True,
    ) -> Any:
        """Run one external step. When `after` changes what readers see, the step carries the
        view as it will be once it succeeded, so its activity writes the read model too."""
        view_after = self._preview(after, None) if after is not None and record_view else None
        if view_after is not None:
            order = order.model_copy(update={"view_after": view_after})
        result = await workflow.execute_activity(
            activity,
            order,
            start_to_close_timeout=EXTERNAL_TIMEOUT,
            retry_policy=EXTERNAL_CALL,
            result_type=result_type,
            summary=summary,
        )
        if after is not None:
            after()
        self._mark_recorded(view_after or order.view_after)
        return result

    def _mark_recorded(self, view: ApplicationView | None) -> None:
        """The read model has `view`; anything changed since makes the process `_dirty`."""
        if view is not None:
            self._recorded_version = max(self._recorded_version, view.version)

    @property
    def _write_off_pending(self) -> bool:
        return self._write_off is not None and self._stage == Stage.OVERDUE

    @property
    def _dirty(self) -> bool:
        """Something readers should see changed without a step to carry it (an attention flag)."""
        return self._verified and not self._stage.is_final and self._version > self._recorded_version

    def _preview(
        self, change: Callable[[], None], stage: Stage | None, waiting_for: str | None = None
    ) -> ApplicationView:
        """The view as it will be after `change` (and entering `stage`), without keeping it:
        the state is snapshot and restored, so a failed step leaves nothing behind."""
        snapshot = dict(self.__dict__)
        snapshot["_timeline"] = list(self._timeline)
        snapshot["_attention"] = dict(self._attention)
        self._previewing = True
        try:
            change()
            if stage is not None:
                self._enter(stage, waiting_for=waiting_for)
            if self._version == snapshot["_version"]:
                self._version += 1
            return self._view()
        finally:
            self.__dict__.clear()
            self.__dict__.update(snapshot)

    async def _record(self, event: str, *, bump: bool = True) -> None:
        """Write the view to the read model: a local activity, safe to repeat (versioned upsert)."""
        if bump and self._version <= self._recorded_version:
            self._version += 1
        self._recorded_version = self._version
        self._upsert_search_attributes()
        await workflow.execute_local_activity(
            steps.RECORD_APPLICATION,
            steps.RecordApplication(view=self._view(), event=event),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RECORD_RETRY,
            summary=f"record: {event}",
        )

    def _enter(
        self,
        stage: Stage,
        *,
        waiting_for: str | None,
        attention_at: datetime | None = None,
        expiry_at: datetime | None = None,
    ) -> None:
        self._attention_at, self._expiry_at = attention_at, expiry_at
        self._attention.pop("deadline", None)
        self._set_stage(stage, waiting_for=waiting_for)
        self._version += 1
        self._upsert_search_attributes()

    def _set_stage(self, stage: Stage, *, waiting_for: str | None) -> None:
        if stage != self._stage:
            self._stage = stage
            self._stage_since = workflow.now()
            self._timeline.append(TimelineEntry(stage=stage, at=self._stage_since))
        self._waiting_for = waiting_for
        self._describe()

    def _flag(self, key: str, reason: str) -> None:
        self._attention[key] = reason
        self._version += 1
        self._describe()

    def _describe(self) -> None:
        """What the process waits for and until when, for the Temporal UI."""
        if self._previewing:
            return
        request = self._inp.request
        where = " · ".join(
            part for part in (self._inp.bank_code, self._district, f"contract {request.contract_no}") if part
        )
        lines = [
            f"**{self._stage}** since {self._stage_since:%Y-%m-%d %H:%M} UTC",
            f"{where} · {request.requested_amount:,.2f} requested",
        ]
        if self._waiting_for:
            lines.append(f"Waiting for {self._waiting_for}.")
            if self._attention_at is not None and "deadline" not in self._attention:
                lines.append(f"Needs a person after {self._attention_at:%Y-%m-%d %H:%M} UTC.")
            if self._expiry_at is not None:
                lines.append(f"Gives up at {self._expiry_at:%Y-%m-%d %H:%M} UTC (then undoes what was done).")
        lines += [f"⚠ {reason}" for reason in self._attention.values()]
        workflow.set_current_details("\n\n".join(lines))

    def _upsert_search_attributes(self) -> None:
        if self._previewing:
            return
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.STAGE.value_set(self._stage.value),
            sa.BANK.value_set(self._inp.bank_code),
            sa.CONTRACT.value_set(self._inp.request.contract_no),
            sa.STAGE_SINCE.value_set(self._stage_since),
            sa.NEEDS_ATTENTION.value_set(bool(self._attention)),
        ]
        if self._district:
            updates.append(sa.DISTRICT.value_set(self._district))
        workflow.upsert_search_attributes(updates)

    # ------------------------------------------------------------------ the view

    def _view(self) -> ApplicationView:
        inp, decision, terms, balance = self._inp, self._decision, self._terms, self._balance
        approved = decision is not None and decision.decision == "approve"
        return ApplicationView(
            application_id=self._app_id,
            contract_no=inp.request.contract_no,
            bank_code=inp.bank_code,
            product_code=inp.request.product_code,
            supplier_credit_code=inp.request.supplier_credit_code,
            district=self._district,
            stage=self._stage,
            requested_amount=inp.request.requested_amount,
            approved_amount=decision.approved_amount if approved and decision else None,
            annual_rate=decision.annual_rate if approved and decision else None,
            term_days=decision.term_days if approved and decision else None,
            disbursed_on=terms.disbursed_on if terms else None,
            maturity_date=terms.maturity_date if terms else None,
            outstanding_principal=balance.outstanding_principal if balance else ZERO,
            interest_paid=balance.interest_paid if balance else ZERO,
            penalty_paid=balance.penalty_paid if balance else ZERO,
            principal_repaid=balance.principal_repaid if balance else ZERO,
            surplus_released=balance.surplus_released if balance else ZERO,
            interest_due=balance.interest_due if balance else ZERO,
            penalty_due=balance.penalty_due if balance else ZERO,
            recovered_amount=self._recovered,
            needs_attention=bool(self._attention),
            attention_reasons=list(self._attention.values()),
            timeline=list(self._timeline),
            credit_profile=self._credit_profile,
            supplier_name=self._supplier_name,
            eligible_maximum=self._eligible_max,
            stage_since=self._stage_since,
            stage_deadline=self._expiry_at,
            waiting_for=self._waiting_for,
            final_reason=self._final_reason,
            submitted_at=inp.submitted_at,
            version=self._version,
            attention=attention_items(self._attention),
        )

    @workflow.query(name=names.QUERY_VIEW)
    def view(self) -> ApplicationView:
        return self._view()

    # ------------------------------------------------------------------ updates

    @workflow.update(name=names.UPDATE_SUBMISSION_OUTCOME)
    async def submission_outcome(self) -> ApplicationView:
        """The answer to POST /v1/applications: the view once verification is over, or the
        refusal with its stable code."""
        await workflow.wait_condition(lambda: self._verified or self._refusal is not None or self._closed)
        if self._refusal is not None:
            await workflow.wait_condition(lambda: self._closed)
            raise ApplicationError(self._refusal.detail, type=self._refusal.code.value, non_retryable=True)
        return self._view()

    @workflow.update(name=names.UPDATE_DECIDE)
    async def decide(self, decision: Decision) -> ApplicationView:
        self._decision = decision
        # Approval answers once the payee change was acknowledged (stage account_lock).
        await workflow.wait_condition(lambda: self._moved_on_from(Stage.BANK_REVIEW))
        return self._view()

    @decide.validator
    def _validate_decision(self, decision: Decision) -> None:
        self._require_stage({Stage.BANK_REVIEW}, "decide")
        if self._decision is not None:
            raise _invalid_state("the bank has already decided this application")
        if decision.decision == "reject":
            return
        product = self._inp.product
        assert product is not None and decision.approved_amount is not None
        assert decision.annual_rate is not None and decision.term_days is not None
        problems = []
        if decision.approved_amount <= 0:
            problems.append("approved_amount must be greater than 0")
        if decision.approved_amount > self._inp.request.requested_amount:
            problems.append(f"approved_amount is above the requested amount {self._inp.request.requested_amount}")
        if self._eligible_max is not None and decision.approved_amount > self._eligible_max:
            problems.append(f"approved_amount is above the eligible maximum {self._eligible_max}")
        if not product.min_rate <= decision.annual_rate <= product.max_rate:
            problems.append(f"annual_rate must be within {product.min_rate}..{product.max_rate}")
        if not 1 <= decision.term_days <= product.max_term_days:
            problems.append(f"term_days must be within 1..{product.max_term_days}")
        if problems:
            raise ApplicationError("; ".join(problems), type=ErrorCode.VALIDATION_ERROR.value, non_retryable=True)

    @workflow.update(name=names.UPDATE_WITHDRAW)
    async def withdraw(self, withdrawal: Withdrawal) -> ApplicationView:
        self._withdrawal = withdrawal
        await workflow.wait_condition(lambda: self._closed or self._terms is not None)
        return self._view()

    @withdraw.validator
    def _validate_withdrawal(self, withdrawal: Withdrawal) -> None:
        self._require_stage(WITHDRAWABLE_STAGES, "withdraw")

    @workflow.update(name=names.UPDATE_CANCEL)
    async def cancel(self, cancellation: OpsCancellation) -> ApplicationView:
        self._cancellation = cancellation
        await workflow.wait_condition(lambda: self._closed or self._terms is not None)
        return self._view()

    @cancel.validator
    def _validate_cancel(self, cancellation: OpsCancellation) -> None:
        self._require_stage(WITHDRAWABLE_STAGES, "cancel")

    @workflow.update(name=names.UPDATE_RECORD_OFFLINE_LOCK_ANSWER)
    async def record_offline_lock_answer(self, answer: OfflineLockAnswer) -> ApplicationView:
        self._lock_answer_offline = answer
        self._lock_answer = answer.decision
        await workflow.wait_condition(lambda: self._moved_on_from(Stage.ACCOUNT_LOCK))
        return self._view()

    @record_offline_lock_answer.validator
    def _validate_offline_answer(self, answer: OfflineLockAnswer) -> None:
        self._require_stage({Stage.ACCOUNT_LOCK}, "record a lock answer")
        if self._lock_answer is not None:
            raise _invalid_state(f"the purchaser's answer was already recorded ({self._lock_answer})")

    @workflow.update(name=names.UPDATE_REPORT_REPAYMENT)
    async def report_repayment(self, repayment: SupplierRepayment) -> RepaymentReceipt:
        key = f"supplier:{repayment.repayment_id}"
        if key in self._seen_money:
            return RepaymentReceipt(status="duplicate")
        self._seen_money.add(key)
        self._queue.append(_Money("supplier", repayment.repayment_id, repayment.amount, repayment.paid_on))
        return RepaymentReceipt(status="accepted")

    @report_repayment.validator
    def _validate_repayment(self, repayment: SupplierRepayment) -> None:
        if f"supplier:{repayment.repayment_id}" in self._seen_money:
            return  # a duplicate is answered "duplicate" whatever the stage is now
        self._require_stage(REPAYABLE_STAGES, "report a repayment")

    @workflow.update(name=names.UPDATE_WRITE_OFF)
    async def write_off(self, write_off: WriteOff) -> ApplicationView:
        self._write_off = write_off
        # written_off is final yet the process stays open for recoveries: answer once booked
        await workflow.wait_condition(lambda: self._stage != Stage.OVERDUE)
        return self._view()

    @write_off.validator
    def _validate_write_off(self, write_off: WriteOff) -> None:
        self._require_stage({Stage.OVERDUE}, "write off")
        if self._write_off is not None:
            raise _invalid_state("a write-off is already being booked")

    @workflow.update(name=names.UPDATE_EXTEND_DEADLINE)
    async def extend_deadline(self, extension: DeadlineExtension) -> ApplicationView:
        delta = timedelta(days=extension.days)
        now = workflow.now()
        if self._attention_at is not None:
            self._attention_at = max(self._attention_at, now) + delta
        if self._expiry_at is not None:
            self._expiry_at = max(self._expiry_at, now) + delta
        if "deadline" in self._attention:
            self._attention.pop("deadline")
        self._version += 1
        self._deadlines_moved = True
        self._describe()
        return self._view()

    @extend_deadline.validator
    def _validate_extension(self, extension: DeadlineExtension) -> None:
        self._require_stage({Stage.BANK_REVIEW, Stage.ACCOUNT_LOCK}, "extend a deadline")

    @workflow.update(name=names.UPDATE_RESEND_TO_BANK)
    async def resend_to_bank(self, resend: ResendToBank) -> ApplicationView:
        self._resend_requested = True
        expected = self._resends + 1
        await workflow.wait_condition(lambda: self._resends >= expected or self._stage != Stage.BANK_REVIEW)
        return self._view()

    @resend_to_bank.validator
    def _validate_resend(self, resend: ResendToBank) -> None:
        self._require_stage({Stage.BANK_REVIEW}, "send to the bank again")
        if self._decision is not None or self._resend_requested:
            raise _invalid_state("the bank has decided, or a resend is already under way")

    @workflow.update(name=names.UPDATE_ACKNOWLEDGE)
    async def acknowledge(self, ack: AttentionAcknowledgement) -> ApplicationView:
        """Ops dealt with a flag that needs judgement: remove it, keep their note in the
        timeline, and tell the UI (search attributes) and the read model at once."""
        reason = self._attention.pop(ack.reason, None)
        if reason is not None:
            note = f"{ack.reason} acknowledged by {_operator(ack.recorded_by)}: {ack.note}"
            self._timeline.append(TimelineEntry(stage=self._stage, at=workflow.now(), note=note))
            self._version += 1
            self._describe()
            await self._record("acknowledged")
        return self._view()

    @acknowledge.validator
    def _validate_acknowledgement(self, ack: AttentionAcknowledgement) -> None:
        if self._closed:
            raise _invalid_state("the application has ended; it takes no more changes")
        if ack.reason not in self._attention:
            flagged = ", ".join(self._attention) or "none"
            raise _invalid_state(f"no attention flag {ack.reason!r} on this application (flagged now: {flagged})")
        if not is_acknowledgeable(ack.reason):
            fix = ATTENTION_FIXES.get(attention_kind(ack.reason), "it clears when its cause goes away")
            raise _invalid_state(f"the {ack.reason!r} flag cannot be acknowledged: {fix}")

    def _moved_on_from(self, stage: Stage) -> bool:
        """Left `stage`, and if into a final stage, finished undoing: an update answers with
        the application as it will stay."""
        return self._stage != stage and (not self._stage.is_final or self._closed)

    def _require_stage(self, allowed: set[Stage] | frozenset[Stage], action: str) -> None:
        if self._stage not in allowed or self._closed:
            allowed_text = ", ".join(sorted(s.value for s in allowed))
            raise _invalid_state(f"cannot {action} in stage {self._stage} (only in {allowed_text})")

    # ------------------------------------------------------------------ signals

    @workflow.signal(name=names.SIGNAL_ACCOUNT_CHANGE)
    def account_change(self, event: AccountChangeEvent) -> None:
        """The purchaser's online answer; a repeated event_id is ignored."""
        if event.event_id in self._seen_events:
            return
        self._seen_events.add(event.event_id)
        if self._stage != Stage.ACCOUNT_LOCK or self._lock_answer is not None:
            workflow.logger.warning("account change %s ignored in stage %s", event.event_id, self._stage)
            return
        if event.contract_no != self._inp.request.contract_no:
            return
        self._lock_answer = event.decision

    @workflow.signal(name=names.SIGNAL_TREASURY_PAYMENT)
    def treasury_payment(self, payment: TreasuryPayment) -> None:
        """A treasury payment on the contract; applied once per payment_id."""
        key = f"treasury:{payment.payment_id}"
        if key in self._seen_money:
            return
        self._seen_money.add(key)
        if self._stage not in PAYMENT_ACCEPTING_STAGES or payment.contract_no != self._inp.request.contract_no:
            workflow.logger.warning("payment %s ignored in stage %s", payment.payment_id, self._stage)
            return
        if payment.payee_account_no != self._inp.request.collection_account.account_no:
            self._flag(
                f"misdirected:{payment.payment_id}",
                f"treasury payment {payment.payment_id} of {payment.amount} on {payment.paid_on} went to "
                "another account than the locked collection account; not credited — check the payee "
                "account with the purchaser and the treasury",
            )
            return
        self._queue.append(_Money("treasury", payment.payment_id, payment.amount, payment.paid_on))


# ---------------------------------------------------------------------- helpers


def _contract_problem(
    inp: FinancingInput, contract_supplier: str, status: ContractStatus, product: Product | None
) -> str | None:
    """Refusal 4 of API.md, in its order."""
    if inp.request.supplier_credit_code != contract_supplier:
        return "supplier_credit_code does not match the contract's supplier"
    if status != ContractStatus.EFFECTIVE:
        return f"the contract is {status}, not effective"
    if product is None:
        return f"bank {inp.bank_code} has no product {inp.request.product_code}"
    return None


def _refusal_of(err: ActivityError | ApplicationError, fallback: str) -> BusinessRefusal:
    cause = err if isinstance(err, ApplicationError) else err.cause
    if isinstance(cause, ApplicationError) and cause.type:
        try:
            return BusinessRefusal(ErrorCode(cause.type), cause.message)
        except ValueError:
            pass
    return BusinessRefusal(ErrorCode.UPSTREAM_UNAVAILABLE, f"{fallback}: {cause or err}")


def _operator(recorded_by: str | None) -> str:
    """How a reason names the operator: the API stamps "ops:<label>" — "ops" for the platform's
    own key, "ops (alice)" for a named one."""
    label = (recorded_by or "").removeprefix("ops:")
    return "ops" if label in ("", "ops") else f"ops ({label})"


def _invalid_state(message: str) -> ApplicationError:
    return ApplicationError(message, type=ErrorCode.INVALID_STATE.value, non_retryable=True)


def _repaying_wait(terms: LoanTerms) -> str:
    return f"repayment by {terms.maturity_date} (overdue from {terms.overdue_from})"
