"""A supplier's financing request expires (store/financing_requests.py): still `open` at its
`expires_at`, it is `expired` for every reader and change from that instant on, its open offers
lapse, and its contract is free for a new request. A request being accepted never expires.

The repository judges "past its time" by the clock it is given: these tests hold it still and
move it by hand (no sleeping), so the boundary is exact to the microsecond."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from domain.contracts import Purchaser
from domain.credit_profile import build_credit_profile
from domain.supplier_channel import RequestContract
from store.financing_requests import AlreadyOpen, FinancingRequests, NotOpen, RequestRecord
from tests.store.factories import credit_code

MADE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
UNTIL = MADE + timedelta(days=9)  # the expiry instant the tests give each request
JUST_BEFORE = UNTIL - timedelta(microseconds=1)
_serial = itertools.count(1)


class Clock:
    """A clock that stands still until a test moves it; `then` queues instants it answers first
    (one per reading), to put time between the sweep and the row lock of one call."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.then: list[datetime] = []

    def __call__(self) -> datetime:
        return self.then.pop(0) if self.then else self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(MADE)


@pytest.fixture
def requests(db_pool: asyncpg.Pool, clock: Clock) -> FinancingRequests:
    return FinancingRequests(db_pool, clock=clock)


def contract(contract_no: str | None = None) -> RequestContract:
    return RequestContract(
        contract_no=contract_no or f"WX-EXP-{next(_serial):06d}",
        project_name="某某采购项目",
        purchaser=Purchaser(code="P001", name="无锡市某某局", district="梁溪区"),
        amount=Decimal("1000000.00"),
        paid_amount=Decimal("0.00"),
        signed_on=MADE.date(),
        expected_payment_date=MADE.date() + timedelta(days=150),
    )


async def make_request(
    requests: FinancingRequests, contract_no: str | None = None, *, until: datetime = UNTIL
) -> RequestRecord:
    return await requests.create(
        supplier_credit_code=credit_code(7),
        supplier_name="无锡某某科技有限公司",
        contract=contract(contract_no),
        requested_amount=Decimal("800000.00"),
        collection_account_no="6222024000000001",
        collection_account_name="无锡某某科技有限公司",
        known_paid=Decimal("0.00"),
        credit_profile=build_credit_profile([]),
        created_at=MADE,
        expires_at=until,
    )


async def offer(requests: FinancingRequests, request_id: str, bank_code: str = "ICBC") -> str:
    made = await requests.offer(request_id, bank_code, "STD", Decimal("800000.00"), Decimal("0.0385"), 180)
    return made.offer_id


async def test_a_request_is_open_until_its_instant_and_expired_from_it(
    requests: FinancingRequests, clock: Clock
) -> None:
    request = await make_request(requests)
    assert request.status == "open" and request.expires_at == UNTIL and request.created_at == MADE
    clock.at = JUST_BEFORE
    first = await offer(requests, request.request_id, "ICBC")
    second = await offer(requests, request.request_id, "ABC")
    shown = await requests.get(request.request_id)
    assert shown is not None and shown.status == "open"
    assert request.request_id in {r.request_id for r in (await requests.for_bank("BOC", "open", 200, None))[0]}

    clock.at = UNTIL
    expired = await requests.get(request.request_id)
    assert expired is not None and expired.status == "expired"
    assert {o.offer_id: o.status for o in expired.offers} == {first: "lapsed", second: "lapsed"}
    assert request.request_id not in await requests.expire_due()  # expired once, by the read that found it
    # gone from every bank's open list; a bank that offered still finds it under `expired`
    assert request.request_id not in {r.request_id for r in (await requests.for_bank("BOC", "open", 200, None))[0]}
    assert request.request_id in {r.request_id for r in (await requests.for_bank("ICBC", "expired", 200, None))[0]}
    assert request.request_id not in {r.request_id for r in (await requests.for_bank("BOC", None, 200, None))[0]}
    assert [r.status for r in await requests.of_supplier(credit_code(7)) if r.request_id == request.request_id] == [
        "expired"
    ]


async def test_nothing_can_be_done_with_an_expired_request(requests: FinancingRequests, clock: Clock) -> None:
    request = await make_request(requests)
    offer_id = await offer(requests, request.request_id)
    clock.at = UNTIL + timedelta(hours=1)
    with pytest.raises(NotOpen) as offered:
        await offer(requests, request.request_id, "ABC")
    assert offered.value.status == "expired"
    with pytest.raises(NotOpen) as accepted:
        await requests.begin_accept(request.request_id, offer_id)
    assert accepted.value.status == "expired"
    with pytest.raises(NotOpen) as cancelled:
        await requests.cancel(request.request_id)
    assert cancelled.value.status == "expired"
    after = await requests.get(request.request_id)
    assert after is not None and after.status == "expired" and after.accepted_offer_id is None
    assert [(o.bank_code, o.status) for o in after.offers] == [("ICBC", "lapsed")]  # ABC's never landed


async def test_the_contract_is_free_again_once_its_request_expired(requests: FinancingRequests, clock: Clock) -> None:
    request = await make_request(requests)
    clock.at = JUST_BEFORE
    with pytest.raises(AlreadyOpen):
        await make_request(requests, request.contract_no, until=UNTIL + timedelta(days=9))
    assert (found := await requests.in_play_for(request.contract_no)) is not None
    assert found.request_id == request.request_id

    clock.at = UNTIL
    assert await requests.in_play_for(request.contract_no) is None
    # nothing read the old request since it became due: creating the new one expires it first
    clock.at = UNTIL + timedelta(days=1)
    again = await make_request(requests, request.contract_no, until=UNTIL + timedelta(days=9))
    assert again.status == "open"
    old = await requests.get(request.request_id)
    assert old is not None and old.status == "expired"
    assert (in_play := await requests.in_play_for(request.contract_no)) is not None
    assert in_play.request_id == again.request_id


async def test_an_unread_request_past_its_time_does_not_block_a_new_one(
    requests: FinancingRequests, clock: Clock
) -> None:
    request = await make_request(requests)
    clock.at = UNTIL  # no read in between: the new request's own call expires the old one
    again = await make_request(requests, request.contract_no, until=UNTIL + timedelta(days=9))
    assert again.status == "open"


async def test_a_request_being_accepted_never_expires(requests: FinancingRequests, clock: Clock) -> None:
    request = await make_request(requests)
    chosen = await offer(requests, request.request_id, "ICBC")
    other = await offer(requests, request.request_id, "ABC")
    started = await requests.begin_accept(request.request_id, chosen)
    assert started.how == "started"

    clock.at = UNTIL + timedelta(days=30)
    assert request.request_id not in await requests.expire_due()  # (other tests' requests may expire)
    shown = await requests.get(request.request_id)
    assert shown is not None and shown.status == "accepting"
    assert {o.status for o in shown.offers} == {"open"}
    assert (await requests.begin_accept(request.request_id, chosen)).how == "resumed"  # a retry joins it
    assert (in_play := await requests.in_play_for(request.contract_no)) is not None
    assert in_play.request_id == request.request_id  # the contract stays held
    await requests.finish_accept(request.request_id, chosen, "app-expiry-1")
    done = await requests.get(request.request_id)
    assert done is not None and done.status == "accepted" and done.application_id == "app-expiry-1"
    assert {o.offer_id: o.status for o in done.offers} == {chosen: "accepted", other: "lapsed"}


async def test_a_refused_acceptance_past_its_time_leaves_the_request_expired(
    requests: FinancingRequests, clock: Clock
) -> None:
    request = await make_request(requests)
    chosen = await offer(requests, request.request_id)
    await requests.begin_accept(request.request_id, chosen)
    clock.at = UNTIL
    await requests.undo_accept(request.request_id, chosen)
    shown = await requests.get(request.request_id)
    assert shown is not None and shown.status == "expired" and shown.accepted_offer_id is None
    assert {o.status for o in shown.offers} == {"lapsed"}

    # refused before its time: open again, as it was
    fresh = await make_request(requests, until=UNTIL + timedelta(days=9))
    again = await offer(requests, fresh.request_id)
    await requests.begin_accept(fresh.request_id, again)
    await requests.undo_accept(fresh.request_id, again)
    reopened = await requests.get(fresh.request_id)
    assert reopened is not None and reopened.status == "open" and {o.status for o in reopened.offers} == {"open"}


@pytest.mark.parametrize("change", ["offer", "accept", "cancel"])
async def test_a_change_checks_the_time_again_under_the_row_lock(
    requests: FinancingRequests, clock: Clock, change: str
) -> None:
    """Time passes between the sweep a call starts with and the row lock it takes: the change
    sees `expired`, and the expiry it made under the lock stays (the refusal does not undo it)."""
    request = await make_request(requests)
    offer_id = await offer(requests, request.request_id)
    clock.at = JUST_BEFORE
    clock.then = [JUST_BEFORE, UNTIL]  # the call's sweep reads the first, its row lock the second
    with pytest.raises(NotOpen) as refused:
        if change == "offer":
            await offer(requests, request.request_id, "ABC")
        elif change == "accept":
            await requests.begin_accept(request.request_id, offer_id)
        else:
            await requests.cancel(request.request_id)
    assert refused.value.status == "expired"
    assert clock.then == []  # both were read: the row lock judged by the later instant
    shown = await requests.get(request.request_id)  # read at JUST_BEFORE: expired already, for good
    assert shown is not None and shown.status == "expired"
    assert [(o.offer_id, o.status) for o in shown.offers] == [(offer_id, "lapsed")]


async def test_concurrent_readers_expire_each_request_once(
    requests: FinancingRequests, clock: Clock, db_pool: asyncpg.Pool
) -> None:
    made = [await make_request(requests) for _ in range(8)]
    for request in made:
        await offer(requests, request.request_id, "ICBC")
        await offer(requests, request.request_id, "ABC")
    clock.at = UNTIL
    swept = await asyncio.gather(*(requests.expire_due() for _ in range(6)))
    expired = [request_id for ids in swept for request_id in ids]
    ours = {r.request_id for r in made}
    assert sorted(i for i in expired if i in ours) == sorted(ours)  # each by exactly one of them
    statuses = await db_pool.fetch(
        "SELECT r.status, o.status AS offer_status FROM financing_requests r "
        "JOIN financing_offers o USING (request_id) WHERE r.request_id = ANY($1)",
        list(ours),
    )
    assert {(row["status"], row["offer_status"]) for row in statuses} == {("expired", "lapsed")}
