"""`serve_simulators`: the three systems on their configured ports until cancelled, their
state kept under the data directory across a restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from domain.settings import Settings
from simulators.main import bind_socket, serve_simulators


def free_ports(n: int) -> list[int]:
    sockets = [bind_socket("127.0.0.1", 0) for _ in range(n)]
    ports = [int(s.getsockname()[1]) for s in sockets]
    for s in sockets:
        s.close()
    return ports


async def answering(url: str) -> None:
    """Wait until `url` answers (the servers start in the background task)."""
    async with httpx.AsyncClient() as http, asyncio.timeout(10):
        while True:
            try:
                (await http.get(url)).raise_for_status()
                return
            except httpx.TransportError:
                await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def serving(settings: Settings, data_dir: Path) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(serve_simulators(settings, data_dir))
    try:
        for url in (settings.procurement_url, settings.bank_url, settings.treasury_url, settings.sms_url):
            await answering(url + "/healthz")
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_serves_until_cancelled_and_keeps_state(tmp_path: Path) -> None:
    p, b, t, s = free_ports(4)
    settings = Settings(
        simulators_host="127.0.0.1",
        procurement_port=p,
        bank_port=b,
        treasury_port=t,
        sms_port=s,
        procurement_url=f"http://127.0.0.1:{p}",
        bank_url=f"http://127.0.0.1:{b}",
        treasury_url=f"http://127.0.0.1:{t}",
        sms_url=f"http://127.0.0.1:{s}",
    )
    payout = {
        "application_id": "A",
        "bank_code": "ICBC",
        "contract_no": "C",
        "amount": "1.00",
        "account_no": "6222000000000001",
        "account_name": "某某",
    }
    async with serving(settings, tmp_path) as task, httpx.AsyncClient() as http:
        paid = await http.post(settings.bank_url + "/disbursements", json=payout, headers={"Idempotency-Key": "k"})
        assert paid.status_code == 201
    assert task.cancelled()
    assert (tmp_path / "simulators" / "bank.json").exists()
    for port in (p, b, t):  # the ports are free again
        bind_socket("127.0.0.1", port).close()

    async with serving(settings, tmp_path), httpx.AsyncClient() as http:
        listed = await http.get(settings.bank_url + "/sim/disbursements")
    assert [d["disbursement_id"] for d in listed.json()["items"]] == [paid.json()["disbursement_id"]]


async def test_a_busy_port_fails_at_once(tmp_path: Path) -> None:
    busy = bind_socket("127.0.0.1", 0)
    try:
        settings = Settings(
            simulators_host="127.0.0.1",
            bank_port=int(busy.getsockname()[1]),
            procurement_port=0,
            treasury_port=0,
            sms_port=0,
        )
        with pytest.raises(OSError):
            await serve_simulators(settings, None)
    finally:
        busy.close()
