"""Where a simulated system keeps what it knows: in memory, or in a file so that a restart of
the local stack keeps contracts, disbursements, locks and idempotency records (a real bank does
not forget a payout because its process restarted).

Each simulator's state is one pydantic model; `StateStore` loads it at start and persists every
change before it is answered, synchronously inside the event loop (so a request's
change-then-save is indivisible): a SIGKILL loses nothing acknowledged.

- `save()` writes the whole state: `<file>` is replaced atomically (temporary file + rename).
- `save(*changed)` appends only what changed, one line, to `<file>.journal`: a whole field
  (`"sequence"`) or one entry of a dict field (`("payments", payment_id)`, gone if deleted) or
  of a list field (`("released_locks", index)`). Every entry the change touched must be named;
  with `SIMULATORS_CHECK_STATE=1` (the tests set it) each such save is checked against the
  whole state and a change left unnamed fails the request.

Writing the whole state cost in proportion to everything the simulator remembers — about 1 ms
a write at 60 loans, and half of the simulators' CPU under `make bench` (docs/performance.md);
a journal line costs what the change is. The journal is folded into `<file>` at start and
once it outgrows it. The file carries a generation, and only journal lines of that generation
apply, so a stop between writing a new `<file>` and emptying the journal replays nothing twice.
A file without a generation (written before the journal existed) loads as generation 0.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar, get_args

from pydantic import BaseModel, TypeAdapter

S = TypeVar("S", bound=BaseModel)
Change = str | tuple[str, str | int]
"""A whole field, or (field, key) for an entry of a dict field, (field, index) for a list's."""

CHECK_SETTING = "SIMULATORS_CHECK_STATE"
GENERATION = "journal_generation"
MIN_JOURNAL_BYTES = 256 * 1024  # the journal is folded in once it is larger than this and the file


class StateStore(Generic[S]):
    def __init__(self, model: type[S], state_file: Path | None, *, check: bool | None = None) -> None:
        self.model = model
        self.state_file = state_file
        self.check = os.environ.get(CHECK_SETTING) == "1" if check is None else check
        self.generation = 0
        self._journal_fd: int | None = None
        self._journal_bytes = 0
        self._file_bytes = 0
        if state_file is None:
            self.state: S = model()
        else:
            state_file.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = state_file.with_name(f".{state_file.name}.{os.getpid()}.tmp")
            self._journal = state_file.with_name(state_file.name + ".journal")
            raw = self._load()
            self.state = model.model_validate(raw)
            self.save()  # the journal folded in: start from one file
        self._shadow: dict[str, Any] | None = self.state.model_dump(mode="json") if self.check else None

    def __del__(self) -> None:
        if getattr(self, "_journal_fd", None) is not None:
            os.close(self._journal_fd)  # type: ignore[arg-type]

    def save(self, *changed: Change) -> None:
        if not changed:
            self._write_whole()
            if self.check:
                self._shadow = self.state.model_dump(mode="json")
            return
        ops = [self._op(change) for change in changed]
        if self._shadow is not None:
            _apply(self._shadow, ops)
            whole = self.state.model_dump(mode="json")
            if self._shadow != whole:
                unnamed = sorted(k for k in whole if whole[k] != self._shadow.get(k))
                self._shadow = whole
                raise AssertionError(f"{self.model.__name__}: a change to {unnamed} was saved without naming it")
        if self.state_file is None:
            return
        line = json.dumps({"g": self.generation, "c": ops}, ensure_ascii=False, separators=(",", ":")) + "\n"
        data = line.encode()
        if self._journal_fd is None:
            self._journal_fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        written = os.write(self._journal_fd, data)  # one write: a line is there whole or not at all
        if written != len(data):
            raise OSError(f"short write to {self._journal}")
        self._journal_bytes += written
        if self._journal_bytes > max(MIN_JOURNAL_BYTES, self._file_bytes):
            self._write_whole()

    # ---- the file and the journal --------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        assert self.state_file is not None
        if not self.state_file.exists():
            return {}
        stored = json.loads(self.state_file.read_bytes())
        if isinstance(stored, dict) and set(stored) == {GENERATION, "state"}:
            self.generation, raw = int(stored[GENERATION]), stored["state"]
        else:
            raw = stored  # written before the journal: generation 0
        for ops in self._journal_lines():
            _apply(raw, ops)
        return dict(raw)

    def _journal_lines(self) -> Iterator[list[list[Any]]]:
        if not self._journal.exists():
            return
        for text in self._journal.read_bytes().splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                break  # a line the stop cut short: it was never answered, and nothing follows it
            if line.get("g") == self.generation:
                yield line["c"]

    def _write_whole(self) -> None:
        if self.state_file is None:
            return
        generation = self.generation + 1
        document = {GENERATION: generation, "state": self.state.model_dump(mode="json")}
        data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            with open(self._tmp, "wb") as handle:
                handle.write(data)
            os.replace(self._tmp, self.state_file)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        self.generation, self._file_bytes = generation, len(data)
        # the lines written so far are of the generation before: emptying the journal is tidying
        if self._journal_fd is not None:
            os.close(self._journal_fd)
        self._journal_fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o600)
        self._journal_bytes = 0

    def _op(self, change: Change) -> list[Any]:
        if isinstance(change, str):
            return [
                "field",
                change,
                _adapter(self.model, change, whole=True).dump_python(getattr(self.state, change), mode="json"),
            ]
        name, key = change
        container = getattr(self.state, name)
        adapter = _adapter(self.model, name, whole=False)
        if isinstance(container, dict):
            if key in container:
                return ["set", name, key, adapter.dump_python(container[key], mode="json")]
            return ["del", name, key]
        if isinstance(container, list) and isinstance(key, int) and 0 <= key < len(container):
            return ["set", name, key, adapter.dump_python(container[key], mode="json")]
        raise ValueError(f"{self.model.__name__}.{name}[{key!r}] is not an entry that can be saved alone")


def position(entries: list[Any], entry: Any) -> int:
    """The index of `entry` (this very object) in a list field: what `save` names for it."""
    return next(i for i, candidate in enumerate(entries) if candidate is entry)


@cache
def _adapter(model: type[BaseModel], name: str, *, whole: bool) -> TypeAdapter[Any]:
    annotation = model.model_fields[name].annotation
    assert annotation is not None
    if whole:
        return TypeAdapter(annotation)
    args = get_args(annotation)
    return TypeAdapter(args[-1])  # dict[str, V] → V, list[V] → V


def _apply(raw: dict[str, Any], ops: list[list[Any]]) -> None:
    for op in ops:
        kind, name = op[0], op[1]
        if kind == "field":
            raw[name] = op[2]
            continue
        key = op[2]
        container = raw.setdefault(name, [] if isinstance(key, int) else {})
        if isinstance(container, list):
            if key < len(container):
                container[key] = op[3]
            elif key == len(container):
                container.append(op[3])
            else:
                raise ValueError(f"journal: {name}[{key}] after {len(container)} entries")
        elif kind == "set":
            container[key] = op[3]
        else:
            container.pop(key, None)
