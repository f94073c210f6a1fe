"""The real stack for the bench: `zcd run` in a temporary data directory on free ports
(tests/e2e/local_stack.py), its processes found by their command lines, and their CPU and
memory read with psutil."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil

from tests.e2e.local_stack import LocalStack

MB = 1024 * 1024


def children(stack: LocalStack) -> list[psutil.Process]:
    assert stack.process is not None
    return list(psutil.Process(stack.process.pid).children(recursive=False))


def _argv(process: psutil.Process) -> list[str]:
    try:
        return list(process.cmdline())
    except psutil.Error:
        return []


def part(stack: LocalStack, subcommand: str) -> psutil.Process:
    """The child `python -m cli.main <subcommand>` of `zcd run`."""
    for child in children(stack):
        if _argv(child)[-2:] == ["cli.main", subcommand]:
            return child
    raise LookupError(f"no `zcd {subcommand}` process under zcd run")


def temporal_server(stack: LocalStack) -> psutil.Process:
    for child in children(stack):
        if _argv(child)[1:3] == ["server", "start-dev"]:
            return child
    raise LookupError("no Temporal dev server under zcd run")


def postgres(stack: LocalStack) -> psutil.Process:
    for child in children(stack):
        argv = _argv(child)
        if argv and argv[0].endswith("postgres"):
            return child
    raise LookupError("no PostgreSQL under zcd run")


def tree_cpu(process: psutil.Process, tree: bool) -> dict[int, float]:
    """CPU seconds of a process (and of each of its children: PostgreSQL's backends) now, by pid."""
    seconds: dict[int, float] = {}
    for p in [process, *(process.children(recursive=True) if tree else [])]:
        try:
            times = p.cpu_times()
        except psutil.Error:
            continue
        seconds[p.pid] = float(times.user + times.system)
    return seconds


@dataclass
class Meter:
    """CPU seconds of some processes over stretches of the run (added up over every `measuring`
    block), and the peak RSS of each. For a tree, a child that ended within a stretch is not
    counted (the pools keep theirs)."""

    processes: dict[str, psutil.Process]
    trees: frozenset[str] = frozenset({"postgres"})  # counted with their children
    start: dict[str, dict[int, float]] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def measuring(self, every: float = 0.5) -> Iterator[Meter]:
        self.start = {name: tree_cpu(p, name in self.trees) for name, p in self.processes.items()}
        for name, p in self.processes.items():
            self.peak_rss[name] = max(self.peak_rss.get(name, 0), p.memory_info().rss)
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(every):
                for name, p in self.processes.items():
                    try:
                        self.peak_rss[name] = max(self.peak_rss[name], p.memory_info().rss)
                    except psutil.Error:
                        pass

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            yield self
        finally:
            stop.set()
            sampler.join()
            for name, p in self.processes.items():
                before = self.start[name]
                self.used[name] = self.used.get(name, 0.0) + sum(
                    now - before.get(pid, 0.0) for pid, now in tree_cpu(p, name in self.trees).items()
                )


def rss_mb(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / MB
