"""Where a simulated system keeps what it knows: in memory, or in a JSON file so that a
restart of the local stack keeps contracts, disbursements, locks and idempotency records
(a real bank does not forget a payout because its process restarted).

Each simulator's state is one pydantic model; `StateStore` loads it at start and writes it
after every change. Writes are atomic (temporary file + rename) and synchronous: the state is
small, and writing inside the event loop keeps each request's change-then-save indivisible.
A change is answered only after its write returned, so a SIGKILL loses nothing acknowledged.
The file is compact JSON (indenting made it a fifth larger and its writing a third slower), and
the temporary file is this process's own (one writer: the simulators run in one process).

The whole state is written each time, so a write costs in proportion to everything the
simulator remembers (about 1 ms at 60 loans, docs/performance.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel

S = TypeVar("S", bound=BaseModel)


class StateStore(Generic[S]):
    def __init__(self, model: type[S], state_file: Path | None) -> None:
        self.state_file = state_file
        if state_file is not None and state_file.exists():
            self.state: S = model.model_validate_json(state_file.read_bytes())
        else:
            self.state = model()
        if state_file is not None:
            state_file.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = state_file.with_name(f".{state_file.name}.{os.getpid()}.tmp")

    def save(self) -> None:
        if self.state_file is None:
            return
        try:
            with open(self._tmp, "wb") as handle:
                handle.write(self.state.model_dump_json().encode())
            os.replace(self._tmp, self.state_file)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
