"""The harness's fake systems, with what the model needs on top.

- a gate counts who waits at it (`waiting`), so the driver knows a step is held "in flight"
  rather than still running, and the payout's capture (`bank.apply_repayment`) has a gate too;
- `lost_answers`: the step takes effect, then its answer is lost (the worker died before it
  reported): the retry must find the effect done, never do it twice. The harness's payout
  already records itself before it can fail; this adds the same to the repayment capture.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from temporalio import activity

from domain import steps
from tests.workflow.harness import FakeSystems

# the steps whose gate the model holds: two local activities (held inside a workflow task),
# two regular ones (the server sees them started)
LOCAL_GATES = (steps.REQUEST_PAYEE_CHANGE, steps.RELEASE_FINANCING)
REMOTE_GATES = (steps.DISBURSE, steps.APPLY_REPAYMENT)


@dataclass
class ModelSystems(FakeSystems):
    waiting: Counter[str] = field(default_factory=Counter)
    lost_answers: dict[str, int] = field(default_factory=dict)

    async def _pass_gate(self, name: str) -> None:
        gate = self.gates.get(name)
        if gate is None or gate.is_set():
            return
        self.waiting[name] += 1
        self.arrived[name].set()
        try:
            await gate.wait()
        finally:
            self.waiting[name] -= 1

    def held(self, name: str) -> bool:
        """Some attempt of `name` waits at its gate now."""
        return self.waiting[name] > 0

    def armed(self) -> list[str]:
        """Gates set up and not yet opened."""
        return [name for name, gate in self.gates.items() if not gate.is_set()]

    def open_gate(self, name: str) -> None:
        gate = self.gates.get(name)
        if gate is not None:
            gate.set()

    def open_all(self) -> None:
        for name in list(self.gates):
            self.open_gate(name)

    @activity.defn(name=steps.APPLY_REPAYMENT)
    async def apply_repayment(self, order: steps.RepaymentOrder) -> None:
        await self._pass_gate(steps.APPLY_REPAYMENT)
        if self.lost_answers.get(steps.APPLY_REPAYMENT, 0) > 0 and steps.APPLY_REPAYMENT not in self.refusals:
            # booked at the bank, then the answer never reached the platform
            self.lost_answers[steps.APPLY_REPAYMENT] -= 1
            self.calls[steps.APPLY_REPAYMENT] += 1
            self.repayments.setdefault(f"{order.application_id}:{order.source}:{order.source_id}", order)
            raise RuntimeError("bank.apply_repayment: booked, answer lost")
        await FakeSystems.apply_repayment(self, order)
