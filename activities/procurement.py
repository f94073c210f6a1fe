"""Activities against the procurement system (and the platform's own financing registry).

Each does one thing, carries an idempotency key built from business keys, and is safe to
retry: the procurement system returns the first result for a repeated key.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.refusals import refusals_are_final
from domain import steps
from domain.credit_profile import build_credit_profile
from domain.errors import ErrorCode
from integrations.http import outgoing
from integrations.procurement import (
    FinancingClaim,
    FinancingRelease,
    OfflineAnswer,
    PayeeChangeRequest,
    PayeeRestoreRequest,
    ProcurementClient,
)


class Registry(Protocol):
    """The platform's registry: one active financing per contract, enforced by the database."""

    async def claim(
        self, contract_no: str, application_id: str, bank_code: str, collection_account_no: str | None = None
    ) -> str | None: ...

    async def release(self, contract_no: str, application_id: str) -> object: ...


class RecordedPayments(Protocol):
    """The platform's inbox of treasury payments: what it knows was paid on a contract."""

    async def recorded_total(self, contract_no: str) -> Decimal: ...


class ProcurementActivities:
    def __init__(self, client: ProcurementClient, registry: Registry, *, payments: RecordedPayments) -> None:
        self._client = client
        self._registry = registry
        self._payments = payments

    @activity.defn(name=steps.FETCH_DOSSIER)
    async def fetch_dossier(self, request: steps.DossierRequest) -> steps.Dossier:
        """Read what verification needs in one go; the credit profile is built here so a change
        of the scoring formula never changes a recorded history."""
        with refusals_are_final():
            dossier = await self._client.fetch_dossier(request.contract_no)
        # what the platform itself saw paid, in case the procurement system has not heard of it
        recorded = await self._payments.recorded_total(request.contract_no)
        # the profile (with the figures that produced it) is what the workflow keeps of the
        # history: the list itself stays out of the history Temporal stores for every loan
        return steps.Dossier(
            dossier=dossier.model_copy(update={"history": []}),
            credit_profile=build_credit_profile(dossier.history),
            recorded_payments=recorded,
        )

    @activity.defn(name=steps.REGISTER_FINANCING)
    async def register_financing(self, registration: steps.Registration) -> None:
        """Claim the contract in the platform's registry (the database refuses a second active
        financing even under a race), then register the financing with the procurement system."""
        holder = await self._registry.claim(
            registration.contract_no,
            registration.application_id,
            registration.bank_code,
            registration.collection_account_no,
        )
        if holder is not None:
            raise ApplicationError(
                f"contract {registration.contract_no} already has an active financing",
                type=ErrorCode.CONTRACT_ALREADY_FINANCED.value,
                non_retryable=True,
            )
        with refusals_are_final():
            await self._client.register_financing(
                registration.contract_no,
                outgoing(FinancingClaim, registration),
                steps.idempotency_key(registration.application_id, "register"),
            )

    @activity.defn(name=steps.RELEASE_FINANCING)
    async def release_financing(self, release: steps.Release) -> None:
        """Release both registrations; releasing what is not held is a no-op, so undo is safe
        whatever the point the process reached."""
        await self._client.release_financing(
            release.contract_no,
            release.application_id,
            outgoing(FinancingRelease, release),
            steps.idempotency_key(release.application_id, "release"),
        )
        await self._registry.release(release.contract_no, release.application_id)

    @activity.defn(name=steps.REQUEST_PAYEE_CHANGE)
    async def request_payee_change(self, change: steps.PayeeChange) -> steps.PayeeChangeAck:
        with refusals_are_final():
            pending = await self._client.request_payee_change(
                change.contract_no,
                outgoing(PayeeChangeRequest, change),
                steps.idempotency_key(change.application_id, "payee-change"),
            )
        return steps.PayeeChangeAck(change_id=pending.change_id, previous_account_no=pending.previous_account_no)

    @activity.defn(name=steps.RECORD_OFFLINE_ANSWER)
    async def record_offline_answer(self, answer: steps.OfflineAnswerRecord) -> None:
        with refusals_are_final():
            await self._client.record_offline_answer(
                answer.contract_no,
                answer.application_id,
                outgoing(OfflineAnswer, answer),
                steps.idempotency_key(answer.application_id, "offline-answer"),
            )

    @activity.defn(name=steps.RESTORE_PAYEE_ACCOUNT)
    async def restore_payee_account(self, restore: steps.PayeeRestore) -> None:
        await self._client.restore_payee_account(
            restore.contract_no,
            outgoing(PayeeRestoreRequest, restore),
            steps.idempotency_key(restore.application_id, "payee-restore"),
        )
