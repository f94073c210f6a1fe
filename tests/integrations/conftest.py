"""Clients of the outside systems, pointed at the session's simulators."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from integrations.bank import BankClient
from integrations.procurement import ProcurementClient
from integrations.sms import SmsClient
from integrations.treasury import TreasuryClient
from tests.fixtures.simulators import RunningSimulators


@pytest.fixture
async def procurement(simulators: RunningSimulators) -> AsyncIterator[ProcurementClient]:
    async with ProcurementClient(simulators.procurement_url, timeout_seconds=5.0) as client:
        yield client


@pytest.fixture
async def bank(simulators: RunningSimulators) -> AsyncIterator[BankClient]:
    async with BankClient(simulators.bank_url, timeout_seconds=5.0) as client:
        yield client


@pytest.fixture
async def treasury(simulators: RunningSimulators) -> AsyncIterator[TreasuryClient]:
    async with TreasuryClient(simulators.treasury_url, timeout_seconds=5.0) as client:
        yield client


@pytest.fixture
async def sms(simulators: RunningSimulators) -> AsyncIterator[SmsClient]:
    async with SmsClient(simulators.sms_url, timeout_seconds=5.0) as client:
        yield client
