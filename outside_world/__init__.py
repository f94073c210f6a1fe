"""The platform's outside world as one typed async client: the banks, operations, the treasury
and the purchaser (through the procurement system) as they reach the platform — the public API
(API.md) — and the simulated systems' test hooks, all from the local stack's hand-off file.

Used by `zcd demo`, the end-to-end tests, the chaos suite and the benchmarks, so each drives the
platform the same way. Stages, money rules and products come from `domain/`; nothing here reads
the platform's database or Temporal.
"""

from outside_world.calls import Retry, Unanswered, Unexpected
from outside_world.handoff import Handoff, HandoffMissing
from outside_world.world import OutsideWorld

__all__ = ["Handoff", "HandoffMissing", "OutsideWorld", "Retry", "Unanswered", "Unexpected"]
