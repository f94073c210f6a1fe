"""Look up where a callback belongs (the registry, then the rule in `domain.routing`)."""

from __future__ import annotations

from api.state import AppState
from domain.routing import Holder
from domain.stages import Stage

# stages in which the platform's record shows the payout under way or done: a loan exists
_LOAN_STAGES = frozenset({Stage.DISBURSING, Stage.REPAYING, Stage.OVERDUE, Stage.WRITTEN_OFF, Stage.SETTLED})


async def contract_holder(state: AppState, contract_no: str) -> Holder | None:
    registration = await state.repos.registry.holder(contract_no)
    if registration is None:
        return None
    recorded = await state.repos.applications.get(registration.application_id)
    account = registration.collection_account_no
    if account is None and recorded is not None:
        account = await state.repos.applications.collection_account(registration.application_id)
    loan_exists = recorded is not None and (recorded.stage in _LOAN_STAGES or recorded.disbursed_on is not None)
    return Holder(registration.application_id, account, loan_exists)
