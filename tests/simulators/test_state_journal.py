"""A simulator's state file and its journal (simulators/state.py): what was saved is there
after a restart — a SIGKILL included — whichever way it was saved, and a change saved without
being named is caught."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

import simulators.state
from simulators.state import StateStore


class Entry(BaseModel):
    name: str
    notes: list[str] = Field(default_factory=list)


class Books(BaseModel):
    entries: dict[str, Entry] = Field(default_factory=dict)
    released: list[Entry] = Field(default_factory=list)
    sequence: int = 0


def store(path: Path | None) -> StateStore[Books]:
    return StateStore(Books, path, check=True)


def test_each_way_of_saving_is_there_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "books.json"
    books = store(path)
    books.state.entries["a"] = Entry(name="a")
    books.save(("entries", "a"))
    books.state.entries["b"] = Entry(name="b")
    books.state.sequence = 2
    books.save()  # the whole state
    books.state.entries["a"].notes.append("paid")  # changed in place
    released = books.state.entries.pop("b")
    books.state.released.append(released)
    books.save(("entries", "a"), ("entries", "b"), ("released", 0))
    books.state.sequence = 3
    books.save("sequence")
    again = store(path)
    assert again.state == books.state
    assert again.state.entries["a"].notes == ["paid"] and "b" not in again.state.entries


def test_a_change_saved_without_naming_it_is_caught() -> None:
    books = store(None)
    books.state.entries["a"] = Entry(name="a")
    books.state.sequence = 1
    with pytest.raises(AssertionError, match="sequence"):
        books.save(("entries", "a"))


def test_a_stop_before_the_journal_was_emptied_replays_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "books.json"
    books = store(path)
    books.state.released.append(Entry(name="x"))
    books.state.entries["a"] = Entry(name="a", notes=["first"])
    books.save(("released", 0), ("entries", "a"))
    journal = path.with_name(path.name + ".journal")
    left = journal.read_bytes()
    del books.state.entries["a"]
    books.save()  # the whole state, a new generation; then, as if stopped before emptying it:
    journal.write_bytes(left)
    again = store(path)
    assert [e.name for e in again.state.released] == ["x"]  # not appended a second time
    assert "a" not in again.state.entries  # not brought back


def test_a_line_cut_short_is_not_applied(tmp_path: Path) -> None:
    path = tmp_path / "books.json"
    books = store(path)
    books.state.entries["a"] = Entry(name="a")
    books.save(("entries", "a"))
    journal = path.with_name(path.name + ".journal")
    with journal.open("ab") as handle:
        handle.write(b'{"g":1,"c":[["set","entries","b",{"na')
    assert set(store(path).state.entries) == {"a"}


def test_a_file_from_before_the_journal_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "books.json"
    path.write_text(json.dumps({"entries": {"a": {"name": "a", "notes": []}}, "released": [], "sequence": 7}, indent=1))
    assert store(path).state.sequence == 7


def test_the_journal_is_folded_in_once_it_outgrows_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulators.state, "MIN_JOURNAL_BYTES", 1000)
    path = tmp_path / "books.json"
    books = store(path)
    for n in range(200):
        books.state.entries[f"k{n}"] = Entry(name=f"k{n}")
        books.save(("entries", f"k{n}"))
    journal = path.with_name(path.name + ".journal")
    assert journal.stat().st_size < path.stat().st_size  # folded in along the way
    assert store(path).state == books.state


def test_what_was_saved_survives_a_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "books.json"
    child = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from tests.simulators.test_state_journal import Entry, store
        books = store(Path({str(path)!r}))
        for n in range(50):
            books.state.entries[f"k{{n}}"] = Entry(name=f"k{{n}}")
            books.save(("entries", f"k{{n}}"))
        print("saved", flush=True)
        time.sleep(60)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", child], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2]
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "saved"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert set(store(path).state.entries) == {f"k{n}" for n in range(50)}
