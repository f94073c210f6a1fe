"""The stages of a financing (API.md) and which of them are final."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    VERIFYING = "verifying"
    BANK_REVIEW = "bank_review"
    ACCOUNT_LOCK = "account_lock"
    DISBURSING = "disbursing"
    REPAYING = "repaying"
    OVERDUE = "overdue"
    SETTLED = "settled"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    FAILED = "failed"
    WRITTEN_OFF = "written_off"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STAGES


ACTIVE_STAGES = frozenset(
    {Stage.VERIFYING, Stage.BANK_REVIEW, Stage.ACCOUNT_LOCK, Stage.DISBURSING, Stage.REPAYING, Stage.OVERDUE}
)
FINAL_STAGES = frozenset(set(Stage) - ACTIVE_STAGES)
# Stages in which the bank may still withdraw: nothing has been paid out yet.
WITHDRAWABLE_STAGES = frozenset({Stage.VERIFYING, Stage.BANK_REVIEW, Stage.ACCOUNT_LOCK})
# Stages in which repayments (treasury or supplier) are applied to the loan.
REPAYABLE_STAGES = frozenset({Stage.REPAYING, Stage.OVERDUE})
# Stages in which a treasury payment for the contract is taken (written-off loans book recoveries).
PAYMENT_ACCEPTING_STAGES = frozenset({Stage.REPAYING, Stage.OVERDUE, Stage.WRITTEN_OFF})
