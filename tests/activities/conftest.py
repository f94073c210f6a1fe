"""The real activity classes over the session's simulators (real HTTP) and the module's
database, run by `temporalio.testing.ActivityEnvironment`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment

from activities.bank import BankActivities
from activities.procurement import ProcurementActivities
from activities.records import RecordActivities
from activities.treasury import TreasuryActivities
from integrations.bank import BankClient
from integrations.procurement import ProcurementClient
from integrations.treasury import TreasuryClient
from store.applications import ApplicationRepository
from store.ledger import LedgerRepository
from store.payments import PaymentInbox
from store.registry import RegistryRepository
from tests.fixtures.simulators import RunningSimulators


@pytest.fixture
def env() -> ActivityEnvironment:
    return ActivityEnvironment()


@pytest.fixture
def views(db_pool: asyncpg.Pool) -> ApplicationRepository:
    return ApplicationRepository(db_pool)


@pytest.fixture
def ledger(db_pool: asyncpg.Pool) -> LedgerRepository:
    return LedgerRepository(db_pool)


@pytest.fixture
def registry(db_pool: asyncpg.Pool) -> RegistryRepository:
    return RegistryRepository(db_pool)


@pytest.fixture
async def procurement(
    simulators: RunningSimulators, registry: RegistryRepository, db_pool: asyncpg.Pool
) -> AsyncIterator[ProcurementActivities]:
    async with ProcurementClient(simulators.procurement_url, timeout_seconds=5.0) as client:
        yield ProcurementActivities(client, registry, payments=PaymentInbox(db_pool))


@pytest.fixture
async def bank(simulators: RunningSimulators, ledger: LedgerRepository) -> AsyncIterator[BankActivities]:
    async with BankClient(simulators.bank_url, timeout_seconds=5.0) as client:
        yield BankActivities(client, ledger)


@pytest.fixture
async def treasury(simulators: RunningSimulators) -> AsyncIterator[TreasuryActivities]:
    async with TreasuryClient(simulators.treasury_url, timeout_seconds=5.0) as client:
        yield TreasuryActivities(client)


@pytest.fixture
def records(views: ApplicationRepository, ledger: LedgerRepository) -> RecordActivities:
    return RecordActivities(views, ledger)
