"""The financing workflow's public face: its type, id scheme and message names.

The API and tests address the workflow through these names, so the workflow module is not
imported outside the worker (and a rename here is a rename everywhere)."""

from __future__ import annotations

WORKFLOW_TYPE = "Financing"
ID_PREFIX = "financing-"

# updates (with validators: a refused update leaves no trace in history)
UPDATE_SUBMISSION_OUTCOME = "submission_outcome"  # waits for verification: the view or a refusal
UPDATE_DECIDE = "decide"
UPDATE_WITHDRAW = "withdraw"
UPDATE_RECORD_OFFLINE_LOCK_ANSWER = "record_offline_lock_answer"
UPDATE_REPORT_REPAYMENT = "report_repayment"
UPDATE_WRITE_OFF = "write_off"
UPDATE_EXTEND_DEADLINE = "extend_deadline"
UPDATE_RESEND_TO_BANK = "resend_to_bank"
UPDATE_CANCEL = "cancel"
UPDATE_ACKNOWLEDGE = "acknowledge"  # ops: a flag that needs judgement was dealt with
# signals (deduplicated by their business ids)
SIGNAL_ACCOUNT_CHANGE = "account_change"
SIGNAL_TREASURY_PAYMENT = "treasury_payment"
# queries
QUERY_VIEW = "view"

# search attributes (typed; registered by the local stack, tests and docker-compose's setup job)
SA_STAGE = "ZcdStage"  # Keyword
SA_BANK = "ZcdBank"  # Keyword
SA_DISTRICT = "ZcdDistrict"  # Keyword
SA_CONTRACT = "ZcdContract"  # Keyword
SA_STAGE_SINCE = "ZcdStageSince"  # Datetime
SA_NEEDS_ATTENTION = "ZcdNeedsAttention"  # Bool


def workflow_id(application_id: str) -> str:
    return f"{ID_PREFIX}{application_id}"


def application_id_of(workflow_id: str) -> str:
    return workflow_id.removeprefix(ID_PREFIX)
