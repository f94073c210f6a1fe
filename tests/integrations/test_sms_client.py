"""The SMS client against the simulated gateway: a code reaches the supplier's phone once per
key, the hook shows it newest first, and a gateway that fails is told apart from one that says no."""

from __future__ import annotations

import pytest

from integrations.errors import ExternalRefusal, ExternalUnavailable
from integrations.sms import SmsClient
from tests.fixtures.simulators import RunningSimulators, supplier_credit_code, unique


async def messages(simulators: RunningSimulators, to: str) -> list[dict[str, str]]:
    answer = await simulators.hook("sms", "GET", "/sim/messages", to=to)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, str]] = answer.json()["items"]
    return items


async def test_a_code_is_sent_once_per_key_and_shown_newest_first(
    sms: SmsClient, simulators: RunningSimulators
) -> None:
    to, key = supplier_credit_code(), unique("sms")
    first = await sms.send_login_code(to, "123456", 5, key)
    again = await sms.send_login_code(to, "123456", 5, key)  # a retry after a lost answer
    assert again.message_id == first.message_id
    await sms.send_login_code(to, "654321", 5, unique("sms"))
    shown = await messages(simulators, to)
    assert [m["code"] for m in shown] == ["654321", "123456"]
    assert {m["to"] for m in shown} == {to}
    assert shown[0]["sent_at"] >= shown[1]["sent_at"]
    assert await messages(simulators, supplier_credit_code()) == []


async def test_the_same_key_with_another_code_is_refused(sms: SmsClient) -> None:
    to, key = supplier_credit_code(), unique("sms")
    await sms.send_login_code(to, "111111", 5, key)
    with pytest.raises(ExternalRefusal) as refused:
        await sms.send_login_code(to, "222222", 5, key)
    assert refused.value.code == "idempotency_key_mismatch"


async def test_a_gateway_outage_is_unavailable_not_a_refusal(sms: SmsClient, simulators: RunningSimulators) -> None:
    to = supplier_credit_code()
    async with simulators.faults("sms", outage=True):
        with pytest.raises(ExternalUnavailable):
            await sms.send_login_code(to, "333333", 5, unique("sms"))
    assert await messages(simulators, to) == []
