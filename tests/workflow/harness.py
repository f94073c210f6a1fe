"""Mocked activities and drivers for the workflow tests on the time-skipping server.

The fakes keep the external systems' state the way the real ones would (a registry that
refuses a second holder, a payout per idempotency key) so each test can assert what the
workflow did to them, not just that a function was called.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from temporalio import activity
from temporalio.client import WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import steps
from domain import workflow_api as names
from domain.application import (
    ApplicationRequest,
    ApplicationView,
    CollectionAccount,
    Deadlines,
    FinancingInput,
    Preapproval,
    Recorded,
)
from domain.contracts import Contract, ContractDossier, ContractStatus, PastContract, Purchaser, Supplier
from domain.credit_code import make_credit_code
from domain.credit_profile import build_credit_profile
from domain.products import STANDARD_PRODUCT, Product
from domain.stages import Stage
from domain.state_council_calendar import state_council_calendar
from domain.working_days import WorkingCalendar
from workflows.financing import FinancingWorkflow

SUPPLIER = make_credit_code("91320200", "MA1MXY3K")
OTHER_SUPPLIER = make_credit_code("91320200", "MA2NQ7PL")
COLLECTION_ACCOUNT = "6222020000000001"
ORIGINAL_PAYEE = "3202000000000099"
# what the API passes on a financing's input: the State Council calendar from this year on
WORKING_CALENDAR = state_council_calendar(datetime.now(UTC).year)


def contract(contract_no: str, **overrides: Any) -> Contract:
    fields: dict[str, Any] = {
        "contract_no": contract_no,
        "project_name": "梁溪区智慧校园设备采购",
        "purchaser": Purchaser(code="P-LX-001", name="无锡市梁溪区教育局", district="梁溪区"),
        "supplier": Supplier(credit_code=SUPPLIER, name="无锡某某科技有限公司"),
        "amount": Decimal("1000000.00"),
        "paid_amount": Decimal("0.00"),
        "signed_on": date(2026, 10, 8),
        "expected_payment_date": date(2027, 3, 31),
        "status": ContractStatus.EFFECTIVE,
        "payee_account_no": ORIGINAL_PAYEE,
    }
    fields.update(overrides)
    return Contract(**fields)


HISTORY = [
    PastContract(
        contract_no=f"WX-2025-{i:06d}",
        purchaser_code=f"P-{i % 3}",
        amount=Decimal("300000.00"),
        signed_on=date(2024 + i % 2, 5, 1),
        delivered_on_time=True,
        paid_on_time=i % 4 != 0,
        status=ContractStatus.COMPLETED,
    )
    for i in range(6)
]


@dataclass
class FakeSystems:
    """The procurement, treasury and bank systems and the platform records, in memory."""

    contracts: dict[str, Contract] = field(default_factory=dict)
    procurement_holders: dict[str, str] = field(default_factory=dict)  # contract -> application
    registry: dict[str, str] = field(default_factory=dict)
    payee: dict[str, str] = field(default_factory=dict)
    treasury_locks: dict[str, str] = field(default_factory=dict)
    reviews: dict[str, str] = field(default_factory=dict)  # application -> "open" | "cancelled"
    payouts: dict[str, steps.DisbursementOrder] = field(default_factory=dict)  # key -> order
    repayments: dict[str, steps.RepaymentOrder] = field(default_factory=dict)
    overdue_notices: list[steps.OverdueNotice] = field(default_factory=list)
    write_offs: list[steps.WriteOffBooking] = field(default_factory=list)
    offline_answers: list[steps.OfflineAnswerRecord] = field(default_factory=list)
    views: dict[str, ApplicationView] = field(default_factory=dict)  # the read model
    # contract -> sum of the treasury payments the platform recorded on it (the payments inbox)
    recorded_payments: dict[str, Decimal] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    # faults: activity name -> number of attempts that fail (transiently) before success
    transient_failures: dict[str, int] = field(default_factory=dict)
    refusals: dict[str, ApplicationError] = field(default_factory=dict)
    # activity name -> a gate it waits at before its effect: a test holds a step "in flight"
    # (the payee change being requested, the payout being confirmed) and sends messages meanwhile
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    arrived: dict[str, asyncio.Event] = field(default_factory=dict)  # set when a gated step reached its gate

    def hold(self, name: str) -> asyncio.Event:
        """Hold activity `name` at its gate until the returned event is set."""
        self.arrived[name] = asyncio.Event()
        gate = self.gates[name] = asyncio.Event()
        return gate

    async def _pass_gate(self, name: str) -> None:
        gate = self.gates.get(name)
        if gate is not None:
            self.arrived[name].set()
            await gate.wait()

    def add_contract(self, c: Contract) -> Contract:
        self.contracts[c.contract_no] = c
        self.payee[c.contract_no] = c.payee_account_no
        return c

    def _enter(self, name: str) -> None:
        self.calls[name] += 1
        if name in self.refusals:
            raise self.refusals[name]
        if self.transient_failures.get(name, 0) > 0:
            self.transient_failures[name] -= 1
            raise RuntimeError(f"{name}: simulated outage")

    # -- procurement
    @activity.defn(name=steps.FETCH_DOSSIER)
    async def fetch_dossier(self, req: steps.DossierRequest) -> steps.Dossier:
        self._enter(steps.FETCH_DOSSIER)
        c = self.contracts.get(req.contract_no)
        if c is None:
            raise ApplicationError("no such contract", type="contract_not_found", non_retryable=True)
        holder = self.procurement_holders.get(req.contract_no)
        record = None
        if holder:
            from domain.contracts import FinancingRecord

            record = FinancingRecord(application_id=holder, bank_code="X", registered_at="2026-11-01T00:00:00Z")
        dossier = ContractDossier(
            contract=c.model_copy(update={"payee_account_no": self.payee[c.contract_no]}),
            history=[],  # as the real activity: the profile is built from it, the list stays out
            financing=record,
        )
        return steps.Dossier(
            dossier=dossier,
            credit_profile=build_credit_profile(HISTORY),
            recorded_payments=self.recorded_payments.get(req.contract_no, Decimal("0.00")),
        )

    @activity.defn(name=steps.REGISTER_FINANCING)
    async def register_financing(self, reg: steps.Registration) -> None:
        self._enter(steps.REGISTER_FINANCING)
        holder = self.registry.setdefault(reg.contract_no, reg.application_id)
        if holder != reg.application_id:
            raise ApplicationError("held", type="contract_already_financed", non_retryable=True)
        self.procurement_holders[reg.contract_no] = reg.application_id

    @activity.defn(name=steps.RELEASE_FINANCING)
    async def release_financing(self, rel: steps.Release) -> None:
        await self._pass_gate(steps.RELEASE_FINANCING)
        self._enter(steps.RELEASE_FINANCING)
        for table in (self.registry, self.procurement_holders):
            if table.get(rel.contract_no) == rel.application_id:
                del table[rel.contract_no]

    @activity.defn(name=steps.REQUEST_PAYEE_CHANGE)
    async def request_payee_change(self, change: steps.PayeeChange) -> steps.PayeeChangeAck:
        await self._pass_gate(steps.REQUEST_PAYEE_CHANGE)
        self._enter(steps.REQUEST_PAYEE_CHANGE)
        return steps.PayeeChangeAck(change_id=f"chg-{change.application_id}", previous_account_no=ORIGINAL_PAYEE)

    @activity.defn(name=steps.RECORD_OFFLINE_ANSWER)
    async def record_offline_answer(self, answer: steps.OfflineAnswerRecord) -> None:
        self._enter(steps.RECORD_OFFLINE_ANSWER)
        self.offline_answers.append(answer)

    @activity.defn(name=steps.RESTORE_PAYEE_ACCOUNT)
    async def restore_payee_account(self, restore: steps.PayeeRestore) -> None:
        self._enter(steps.RESTORE_PAYEE_ACCOUNT)
        self.payee[restore.contract_no] = self.contracts[restore.contract_no].payee_account_no

    # -- treasury
    @activity.defn(name=steps.LOCK_PAYEE_ACCOUNT)
    async def lock_payee_account(self, lock: steps.TreasuryLock) -> None:
        self._enter(steps.LOCK_PAYEE_ACCOUNT)
        self.treasury_locks[lock.contract_no] = lock.account_no
        self.payee[lock.contract_no] = lock.account_no

    @activity.defn(name=steps.UNLOCK_PAYEE_ACCOUNT)
    async def unlock_payee_account(self, unlock: steps.TreasuryUnlock) -> None:
        self._enter(steps.UNLOCK_PAYEE_ACCOUNT)
        self.treasury_locks.pop(unlock.contract_no, None)

    # -- bank
    @activity.defn(name=steps.SUBMIT_FOR_REVIEW)
    async def submit_for_review(self, sub: steps.ReviewSubmission) -> None:
        self._enter(steps.SUBMIT_FOR_REVIEW)
        self.reviews[sub.application_id] = "open"

    @activity.defn(name=steps.CANCEL_REVIEW)
    async def cancel_review(self, cancel: steps.ReviewCancellation) -> None:
        self._enter(steps.CANCEL_REVIEW)
        self.reviews[cancel.application_id] = "cancelled"

    @activity.defn(name=steps.DISBURSE)
    async def disburse(self, order: steps.DisbursementOrder) -> steps.DisbursementReceipt:
        key = steps.idempotency_key(order.application_id, "disburse")
        self.payouts.setdefault(key, order)  # executed, even when the answer is then lost
        await self._pass_gate(steps.DISBURSE)
        self._enter(steps.DISBURSE)
        return steps.DisbursementReceipt(disbursement_id=f"D-{order.application_id}", executed_at=datetime.now(UTC))

    @activity.defn(name=steps.APPLY_REPAYMENT)
    async def apply_repayment(self, order: steps.RepaymentOrder) -> None:
        self._enter(steps.APPLY_REPAYMENT)
        self.repayments.setdefault(f"{order.application_id}:{order.source}:{order.source_id}", order)

    @activity.defn(name=steps.SEND_OVERDUE_NOTICE)
    async def send_overdue_notice(self, notice: steps.OverdueNotice) -> None:
        self._enter(steps.SEND_OVERDUE_NOTICE)
        self.overdue_notices.append(notice)

    # -- records
    @activity.defn(name=steps.RECORD_APPLICATION)
    async def record_application(self, record: steps.RecordApplication) -> None:
        self._enter(steps.RECORD_APPLICATION)
        current = self.views.get(record.view.application_id)
        if current is None or current.version < record.view.version:
            self.views[record.view.application_id] = record.view

    @activity.defn(name=steps.BOOK_WRITE_OFF)
    async def book_write_off(self, booking: steps.WriteOffBooking) -> None:
        self._enter(steps.BOOK_WRITE_OFF)
        self.write_offs.append(booking)

    def activities(self) -> list[Callable[..., Awaitable[Any]]]:
        return [
            self.fetch_dossier,
            self.register_financing,
            self.release_financing,
            self.request_payee_change,
            self.record_offline_answer,
            self.restore_payee_account,
            self.lock_payee_account,
            self.unlock_payee_account,
            self.submit_for_review,
            self.cancel_review,
            self.disburse,
            self.apply_repayment,
            self.send_overdue_notice,
            self.record_application,
            self.book_write_off,
        ]


def application_request(contract_no: str, amount: str = "700000.00", **overrides: Any) -> ApplicationRequest:
    fields: dict[str, Any] = {
        "contract_no": contract_no,
        "supplier_credit_code": SUPPLIER,
        "product_code": "STD",
        "requested_amount": amount,
        "collection_account": CollectionAccount(account_no=COLLECTION_ACCOUNT, account_name="无锡某某科技有限公司"),
    }
    fields.update(overrides)
    return ApplicationRequest(**fields)


@dataclass
class Harness:
    env: WorkflowEnvironment
    fakes: FakeSystems
    task_queue: str
    # every financing a test started: their histories can be recorded for the replay suite
    handles: list[WorkflowHandle[Any, ApplicationView]] = field(default_factory=list)

    async def submit(
        self,
        request: ApplicationRequest,
        *,
        product: Product | None = STANDARD_PRODUCT,
        deadlines: Deadlines | None = None,
        application_id: str | None = None,
        calendar: WorkingCalendar | None = WORKING_CALENDAR,
        preapproved: Preapproval | None = None,
    ) -> tuple[WorkflowHandle[Any, ApplicationView], ApplicationView]:
        """POST /v1/applications the way the API does it: update-with-start (`preapproved`: as
        the supplier's acceptance of an offer submits it on the bank's behalf)."""
        app_id = application_id or uuid.uuid4().hex[:12]
        inp = FinancingInput(
            application_id=app_id,
            bank_code="ICBC",
            request=request,
            product=product,
            submitted_at=datetime.now(UTC),
            deadlines=deadlines or Deadlines(),
            calendar=calendar,
            preapproved=preapproved,
        )
        start: WithStartWorkflowOperation[Any, ApplicationView] = WithStartWorkflowOperation(
            names.WORKFLOW_TYPE,
            inp,
            id=names.workflow_id(app_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            result_type=Recorded,
        )
        try:
            answer = await self.env.client.execute_update_with_start_workflow(
                names.UPDATE_SUBMISSION_OUTCOME, start_workflow_operation=start, result_type=Recorded
            )
        finally:
            with contextlib.suppress(Exception):
                self.handles.append(await asyncio.wait_for(start.workflow_handle(), timeout=1))
        return await start.workflow_handle(), self.answered(answer)

    def answered(self, answer: Recorded) -> ApplicationView:
        """The application an answer points at, read as the API does: from the record (the
        workflow wrote it before answering), or carried by an answer that has none."""
        if answer.view is not None:
            return answer.view
        view = self.fakes.views[answer.application_id]
        assert view.version >= answer.version, (view.version, answer.version)
        return view

    async def final(self, handle: WorkflowHandle[Any, Any]) -> ApplicationView:
        """The workflow's result, as the application its record shows at the end."""
        ended = self.env.client.get_workflow_handle(handle.id, result_type=Recorded)
        return self.answered(await ended.result())

    async def view(self, handle: WorkflowHandle[Any, ApplicationView]) -> ApplicationView:
        return await handle.query(names.QUERY_VIEW, result_type=ApplicationView)

    async def until(
        self, handle: WorkflowHandle[Any, ApplicationView], check: Callable[[ApplicationView], bool]
    ) -> ApplicationView:
        """Wait (bounded) until the workflow's view satisfies `check`: a condition, not a fixed sleep."""
        for _ in range(400):
            view = await self.view(handle)
            if check(view):
                return view
            await asyncio.sleep(0.025)
        raise AssertionError(f"condition never held; last view: stage={view.stage} {view.attention_reasons}")

    async def sleep_until(self, instant: datetime) -> None:
        """Move the server's clock to `instant` (timers due before it fire on the way)."""
        await self.env.sleep(instant - await self.env.get_current_time())

    async def until_stage(self, handle: WorkflowHandle[Any, ApplicationView], stage: Stage) -> ApplicationView:
        return await self.until(handle, lambda v: v.stage == stage)

    async def update(self, handle: WorkflowHandle[Any, ApplicationView], name: str, arg: Any, result_type: type) -> Any:
        """An update; one answered with a `Recorded` is read back as its application (as the API does)."""
        if result_type is ApplicationView:
            return self.answered(await handle.execute_update(name, arg, result_type=Recorded))
        return await handle.execute_update(name, arg, result_type=result_type)

    async def signal(self, handle: WorkflowHandle[Any, ApplicationView], name: str, arg: Any) -> None:
        await handle.signal(name, arg)


def new_worker(env: WorkflowEnvironment, fakes: FakeSystems, task_queue: str) -> Worker:
    return Worker(
        env.client,
        task_queue=task_queue,
        workflows=[FinancingWorkflow],
        activities=fakes.activities(),
    )


def today_in(view: ApplicationView) -> date:
    assert view.disbursed_on is not None
    return view.disbursed_on


async def record_histories(h: Harness, name: str, directory: str) -> None:
    """Write the history of every financing the test started to `directory` (the replay
    suite's recordings: `ZCD_RECORD_HISTORIES=tests/replay/histories pytest tests/workflow`)."""
    from pathlib import Path

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a test tool, a local folder)
    seen: set[str] = set()
    for n, handle in enumerate(h.handles):
        if handle.id in seen:
            continue
        seen.add(handle.id)
        history = await handle.fetch_history()
        (out / f"{name}-{n}.json").write_text(history.to_json())
