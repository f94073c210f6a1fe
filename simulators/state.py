"""Where a simulated system keeps what it knows: in memory, or in a JSON file so that a
restart of the local stack keeps contracts, disbursements, locks and idempotency records
(a real bank does not forget a payout because its process restarted).

Each simulator's state is one pydantic model; `StateStore` loads it at start and writes it
after every change. Writes are atomic (temporary file + rename) and synchronous: the state is
small, and writing inside the event loop keeps each request's change-then-save indivisible.
"""

from __future__ import annotations

import os
import tempfile
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

    def save(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.state_file.name, suffix=".tmp", dir=self.state_file.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(self.state.model_dump_json(indent=1).encode())
            os.replace(tmp, self.state_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
