"""Routing a callback by the registry: the contract's active financing, never a stage."""

from __future__ import annotations

from domain.routing import Holder, Route, route_account_change, route_treasury_payment

LOCKED = "6222020000000001"
OTHER = "6222029999999999"


def test_no_active_financing_is_unmatched() -> None:
    assert route_treasury_payment(LOCKED, None) == Route("unmatched")
    assert route_account_change(None) == Route("unmatched")


def test_into_the_collection_account_is_accepted_before_the_loan_exists_too() -> None:
    # the payout may still be being confirmed, or the record not written yet: the workflow waits
    for loan_exists in (False, True):
        assert route_treasury_payment(LOCKED, Holder("app-1", LOCKED, loan_exists)) == Route("accepted", "app-1")


def test_into_another_account_is_misdirected_once_there_is_a_loan() -> None:
    assert route_treasury_payment(OTHER, Holder("app-1", LOCKED, True)) == Route("misdirected", "app-1")
    # before any payout the money went to the supplier's own account: nothing to do with a loan
    assert route_treasury_payment(OTHER, Holder("app-1", LOCKED, False)) == Route("unmatched")


def test_a_registration_without_its_account_hands_over_and_the_workflow_checks() -> None:
    assert route_treasury_payment(OTHER, Holder("app-1", None, True)) == Route("accepted", "app-1")


def test_an_answer_goes_to_the_active_financing_whatever_its_stage() -> None:
    assert route_account_change(Holder("app-1", LOCKED, False)) == Route("accepted", "app-1")
