"""fetch_dossier carries what the platform recorded as paid on the contract (its payments
inbox), beside the procurement system's own paid_amount, for the eligibility rule."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
from temporalio.testing import ActivityEnvironment

from activities.procurement import ProcurementActivities
from domain import steps
from tests.fixtures.simulators import RunningSimulators, unique
from tests.store.test_recorded_total import recorded


async def test_the_dossier_carries_the_payments_the_platform_recorded(
    env: ActivityEnvironment, procurement: ProcurementActivities, simulators: RunningSimulators, db_pool: asyncpg.Pool
) -> None:
    contract = await simulators.new_contract(paid_amount=Decimal("0.00"))
    request = steps.DossierRequest(application_id=unique("app"), contract_no=contract.contract_no)
    assert (await env.run(procurement.fetch_dossier, request)).recorded_payments == Decimal("0.00")

    await recorded(db_pool, unique("T"), contract.contract_no, "300000.05", "unmatched")
    await recorded(db_pool, unique("T"), contract.contract_no, "300000.05", "misdirected")

    dossier = await env.run(procurement.fetch_dossier, request)
    assert dossier.recorded_payments == Decimal("600000.10")
    assert dossier.dossier.contract.paid_amount == Decimal("0.00")  # the procurement system has not heard
