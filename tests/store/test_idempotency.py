"""Idempotency keys: one request acts, the rest replay or are told it is running."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from store.idempotency import IdempotencyRepository, StoredResponse, request_hash

BODY = {"contract_no": "WX-1", "requested_amount": "700000.00"}


def test_the_hash_ignores_key_order_and_spacing() -> None:
    assert request_hash({"a": 1, "b": [1, 2]}) == request_hash({"b": [1, 2], "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})


async def test_reserve_store_and_replay(db_pool: asyncpg.Pool) -> None:
    keys = IdempotencyRepository(db_pool)
    digest = request_hash(BODY)
    assert await keys.reserve("ICBC", "key-1", digest, "app-1") is None
    assert await keys.lookup("ICBC", "key-1") == StoredResponse(digest, None, None, "app-1")  # running
    await keys.store("ICBC", "key-1", 201, {"application_id": "app-1", "stage": "bank_review"}, "app-1")
    replay = await keys.reserve("ICBC", "key-1", digest, "app-2")
    assert replay == StoredResponse(digest, 201, {"application_id": "app-1", "stage": "bank_review"}, "app-1")
    other_body = await keys.reserve("ICBC", "key-1", request_hash({**BODY, "requested_amount": "1.00"}), "app-3")
    assert other_body is not None and other_body.request_hash == digest  # the caller answers 422 mismatch


async def test_keys_are_scoped_per_bank(db_pool: asyncpg.Pool) -> None:
    keys = IdempotencyRepository(db_pool)
    digest = request_hash(BODY)
    assert await keys.reserve("ICBC", "shared-key", digest, "app-i") is None
    assert await keys.reserve("CMB", "shared-key", digest, "app-c") is None


async def test_two_concurrent_identical_requests_cannot_both_act(db_pool: asyncpg.Pool) -> None:
    keys = IdempotencyRepository(db_pool)
    digest = request_hash(BODY)
    for n in range(10):
        outcomes = await asyncio.gather(
            keys.reserve("BOC", f"race-{n}", digest, f"a-{n}"), keys.reserve("BOC", f"race-{n}", digest, f"b-{n}")
        )
        winners = [o for o in outcomes if o is None]
        assert len(winners) == 1
        loser = next(o for o in outcomes if o is not None)
        assert loser.response_status is None and loser.application_id in (f"a-{n}", f"b-{n}")


async def test_a_refused_request_is_forgotten(db_pool: asyncpg.Pool) -> None:
    keys = IdempotencyRepository(db_pool)
    digest = request_hash(BODY)
    assert await keys.reserve("CCB", "refused", digest, "app-r") is None
    await keys.release("CCB", "refused")
    assert await keys.lookup("CCB", "refused") is None
    assert await keys.reserve("CCB", "refused", digest, "app-r2") is None  # the retry is evaluated afresh

    await keys.store("CCB", "refused", 201, {"ok": True}, "app-r2")
    await keys.release("CCB", "refused")  # a completed key is never released
    stored = await keys.lookup("CCB", "refused")
    assert stored is not None and stored.response_status == 201


async def test_an_abandoned_reservation_is_taken_over_by_the_same_request(db_pool: asyncpg.Pool) -> None:
    keys = IdempotencyRepository(db_pool, stale_after=timedelta(0))
    digest = request_hash(BODY)
    assert await keys.reserve("PAB", "abandoned", digest, "app-first") is None
    other = await keys.reserve("PAB", "abandoned", request_hash({"other": True}), "app-x")
    assert other is not None  # a different body never takes it over
    assert await keys.reserve("PAB", "abandoned", digest, "app-second") is None
    taken = await keys.lookup("PAB", "abandoned")
    assert taken is not None and taken.application_id == "app-first"  # the same application continues


async def test_a_claim_says_whether_it_took_over_a_request_that_died(db_pool: asyncpg.Pool) -> None:
    """A fresh key is not a takeover (a change already made is then someone else's: 409); a
    stale reservation of the same body is (its change may be made: the retry hears it was)."""
    keys = IdempotencyRepository(db_pool, stale_after=timedelta(0))
    digest = request_hash(BODY)
    assert await keys.claim("HXB", "died", digest) == (None, False)
    assert await keys.claim("HXB", "died", digest) == (None, True)
    await keys.store("HXB", "died", 200, {"ok": True})
    replayed = await keys.claim("HXB", "died", digest)
    assert replayed.existing is not None and replayed.existing.response_status == 200 and not replayed.taken_over
