"""Fault injection: deterministic with a seed, half of the errors after execution, and never
on the test hooks."""

from __future__ import annotations

import time

from simulators.faults import Fault, FaultInjector, FaultSettings
from tests.fixtures.simulators import RunningSimulators


def draws(seed: int, error_rate: float, n: int) -> list[Fault]:
    injector = FaultInjector()
    injector.configure(FaultSettings(error_rate=error_rate, seed=seed))
    return [injector.next_fault() for _ in range(n)]


def test_a_seed_gives_the_same_faults_every_time() -> None:
    assert draws(7, 0.3, 200) == draws(7, 0.3, 200)
    assert draws(7, 0.3, 200) != draws(8, 0.3, 200)


def test_half_of_the_errors_happen_after_execution() -> None:
    faults = draws(1, 1.0, 2000)
    after = faults.count(Fault.AFTER_EXECUTION)
    assert Fault.NONE not in faults
    assert 900 < after < 1100
    assert faults.count(Fault.BEFORE_EXECUTION) == 2000 - after


def test_no_error_rate_no_errors_and_an_outage_refuses_everything() -> None:
    assert set(draws(1, 0.0, 100)) == {Fault.NONE}
    injector = FaultInjector()
    injector.configure(FaultSettings(outage=True, error_rate=0.0))
    assert {injector.next_fault() for _ in range(10)} == {Fault.OUTAGE}
    assert injector.status().counters.outage_refusals == 10


async def test_an_outage_hits_the_own_api_but_not_the_hooks(simulators: RunningSimulators) -> None:
    contract = await simulators.new_contract()
    async with simulators.faults("procurement", outage=True) as shown:
        assert shown["outage"] is True
        own = await simulators.hook("procurement", "GET", f"/contracts/{contract.contract_no}")
        assert own.status_code == 503
        assert own.headers["Sim-Fault"] == "outage"
        assert own.json()["code"] == "unavailable"
        assert (
            await simulators.hook("procurement", "GET", f"/sim/contracts/{contract.contract_no}")
        ).status_code == 200
        assert (await simulators.hook("procurement", "GET", "/healthz")).status_code == 200
        assert (await simulators.fault_counters("procurement"))["outage_refusals"] == 1
    assert (await simulators.hook("procurement", "GET", f"/contracts/{contract.contract_no}")).status_code == 200


async def test_latency_is_added_to_own_api_calls(simulators: RunningSimulators) -> None:
    async with simulators.faults("treasury", latency_ms=60):
        started = time.perf_counter()
        response = await simulators.hook("treasury", "GET", "/payee-locks/WX-NO-LOCK")
        assert time.perf_counter() - started >= 0.06
    assert response.status_code == 404


async def test_fault_settings_are_validated(simulators: RunningSimulators) -> None:
    response = await simulators.hook("bank", "POST", "/sim/faults", {"error_rate": 1.5})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert (await simulators.hook("bank", "GET", "/sim/faults")).json()["error_rate"] == 0.0
