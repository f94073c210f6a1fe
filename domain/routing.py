"""Where a callback belongs: routed by what is stable for a financing's whole life — the
contract's active registration (from verification to settlement, and on for a written-off
loan) — never by the stage a reader or the workflow may not have reached yet.

The answer is the status the treasury or procurement system is given; an `accepted` message
is handed to the financing, which applies it once its stage comes or keeps it for a person.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

PaymentStatus = Literal["accepted", "unmatched", "misdirected"]


class Holder(NamedTuple):
    """The contract's active financing, as the registry knows it."""

    application_id: str
    collection_account_no: str | None  # the account that is (or becomes) the locked payee account
    loan_exists: bool  # the platform's record shows the payout under way or done


class Route(NamedTuple):
    status: PaymentStatus
    application_id: str | None = None


def route_treasury_payment(payee_account_no: str, holder: Holder | None) -> Route:
    """API.md: no active financing on the contract → unmatched (kept for ops). Into the
    financing's collection account → accepted, whatever stage it is in (money that comes before
    the payout waits for it). Into another account: misdirected once there is a loan (kept for
    ops, the loan flagged); before that it is the supplier's own contract money → unmatched.
    A registration that does not know its account (older rows) hands the payment over: the
    workflow, which knows the account, checks it again."""
    if holder is None:
        return Route("unmatched")
    if holder.collection_account_no is None or holder.collection_account_no == payee_account_no:
        return Route("accepted", holder.application_id)
    if holder.loan_exists:
        return Route("misdirected", holder.application_id)
    return Route("unmatched")


def route_account_change(holder: Holder | None) -> Route:
    """The purchaser's answer goes to the contract's active financing, which takes it (it asked,
    or is asking right now) or keeps it for a person; with none, it is unmatched."""
    if holder is None:
        return Route("unmatched")
    return Route("accepted", holder.application_id)
