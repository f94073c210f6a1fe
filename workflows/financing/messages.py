"""The messages a financing is given — treasury payments, supplier repayments, the
purchaser's answer to the payee change — and the one rule they all follow: a message is
applied once, or kept and flagged for a person. Never silently dropped.

- A message that arrives early waits for its stage: a payment into the locked account while
  the payout is still being confirmed is applied once the loan exists; a confirmation that
  arrives while the platform is still asking the procurement system for the change is taken.
- A message that can never apply is kept, with an attention flag an operator understands and
  a line in the timeline: a payment into another account (misdirected), money for a financing
  that ended before any payout, an answer the platform did not ask for or one contradicting
  the answer already taken.
- Its business id is recorded as seen together with its outcome (`state.inbox`), so a
  redelivered copy changes nothing and the outcome is in every view (`messages`).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.application import AccountChangeEvent, MessageOutcome, SupplierRepayment, TreasuryPayment
    from domain.stages import Stage

from workflows.financing.process import Process
from workflows.financing.state import QueuedMoney, message_key

# Stages in which the purchaser's answer is expected: the bank approved and the platform asks
# (or has asked) the procurement system to change the payee account.
_ANSWER_EXPECTED = frozenset({Stage.BANK_REVIEW, Stage.ACCOUNT_LOCK})


def take_treasury_payment(p: Process, payment: TreasuryPayment) -> bool:
    """A treasury payment on the contract. Returns True when it raised a flag to record now."""
    key = message_key("treasury", payment.payment_id)
    inbox = p.state.inbox
    if inbox.seen(key):
        return False
    inbox.outcomes[key] = MessageOutcome(
        kind="treasury_payment",
        message_id=payment.payment_id,
        amount=payment.amount,
        received_at=workflow.now(),
        outcome="waiting",
    )
    locked_account = p.inp.request.collection_account.account_no
    if payment.contract_no != p.inp.request.contract_no or payment.payee_account_no != locked_account:
        reason = (
            f"treasury payment {payment.payment_id} of {payment.amount} on {payment.paid_on} went to "
            "another account than the locked collection account; not credited — check the payee "
            "account with the purchaser and the treasury"
        )
        keep(p, key, f"misdirected:{payment.payment_id}", reason)
        return True
    inbox.queue.append(QueuedMoney("treasury", payment.payment_id, payment.amount, payment.paid_on))
    return False


def take_supplier_repayment(p: Process, repayment: SupplierRepayment) -> bool:
    """A repayment the bank reports; False when its id was seen before (a duplicate)."""
    key = message_key("supplier", repayment.repayment_id)
    inbox = p.state.inbox
    if inbox.seen(key):
        return False
    inbox.outcomes[key] = MessageOutcome(
        kind="supplier_repayment",
        message_id=repayment.repayment_id,
        amount=repayment.amount,
        received_at=workflow.now(),
        outcome="waiting",
    )
    inbox.queue.append(QueuedMoney("supplier", repayment.repayment_id, repayment.amount, repayment.paid_on))
    return True


def take_account_change(p: Process, event: AccountChangeEvent) -> bool:
    """The purchaser's online answer. Returns True when it raised a flag to record now."""
    key = message_key("account_change", event.event_id)
    state, inbox = p.state, p.state.inbox
    if inbox.seen(key):
        return False
    inbox.outcomes[key] = MessageOutcome(
        kind="account_change", message_id=event.event_id, received_at=workflow.now(), outcome="waiting"
    )
    lock = state.lock
    expected = state.review.approved and state.stage in _ANSWER_EXPECTED and not state.interrupted
    if event.contract_no != p.inp.request.contract_no:
        problem = f"it names contract {event.contract_no}, not this application's"
    elif lock.answer is None and expected:
        lock.answer, lock.answered_by = event.decision, event.event_id
        inbox.settle(key, "applied", f"purchaser {event.decision} the payee account change")
        return False
    elif lock.answer == event.decision:
        inbox.settle(key, "repeat", f"the purchaser's answer ({event.decision}) was already taken")
        return False
    elif lock.answer is not None:
        problem = f"the purchaser's answer {lock.answer} was already taken ({lock.answered_by})"
    elif state.stage.is_final:
        problem = f"the financing had already ended ({state.stage})"
    else:
        problem = "the platform had not asked for a payee account change yet"
    reason = (
        f"purchaser's answer {event.event_id} ({event.decision}) was not taken: {problem} — check the "
        "payee account of the contract with the procurement system"
    )
    keep(p, key, f"account_change:{event.event_id}", reason)
    return True


def keep_unapplicable_money(p: Process) -> None:
    """The financing ends with money waiting that no loan will take (it ended before any
    payout): each amount is kept and flagged — it is in the collection account and must be
    returned to the supplier or settled with the bank by a person."""
    if p.state.loan.terms is not None:
        return  # a loan exists: late money is applied (as surplus once repaid), see servicing
    for money in p.state.inbox.queue:
        reason = (
            f"{money.source} payment {money.source_id} of {money.amount} on {money.paid_on} reached the "
            f"collection account, but the financing ended ({p.state.stage}) before a loan was paid out; "
            "not credited — return it to the supplier"
        )
        keep(p, money.key, f"unapplied:{money.source_id}", reason)
    p.state.inbox.queue.clear()


def keep(p: Process, key: str, flag: str, reason: str) -> None:
    p.state.inbox.settle(key, "kept", reason)
    p.flag(flag, reason)
    p.note(f"kept for a person: {reason}")
    workflow.logger.warning("message %s kept for a person in stage %s", key, p.state.stage)
