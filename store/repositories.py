"""Every repository over one pool, for the API and the worker to build once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from store.applications import ApplicationRepository
from store.audit import AuditTrail
from store.banks import BankRepository
from store.events import EventRepository
from store.financing_requests import FinancingRequests
from store.idempotency import IdempotencyRepository
from store.ledger import LedgerRepository
from store.payments import AccountChangeInbox, PaymentInbox
from store.registry import RegistryRepository
from store.statistics import StatisticsRepository


@dataclass(frozen=True)
class Repositories:
    pool: asyncpg.Pool
    applications: ApplicationRepository
    registry: RegistryRepository
    ledger: LedgerRepository
    payments: PaymentInbox
    account_changes: AccountChangeInbox
    idempotency: IdempotencyRepository
    audit: AuditTrail
    banks: BankRepository
    events: EventRepository
    statistics: StatisticsRepository
    financing_requests: FinancingRequests

    @classmethod
    def over(cls, pool: asyncpg.Pool) -> Repositories:
        return cls(
            pool=pool,
            applications=ApplicationRepository(pool),
            registry=RegistryRepository(pool),
            ledger=LedgerRepository(pool),
            payments=PaymentInbox(pool),
            account_changes=AccountChangeInbox(pool),
            idempotency=IdempotencyRepository(pool),
            audit=AuditTrail(pool),
            banks=BankRepository(pool),
            events=EventRepository(pool),
            statistics=StatisticsRepository(pool),
            financing_requests=FinancingRequests(pool),
        )
