"""Optional: sample a process with py-spy while the loans run, and summarise where it spent
its time. py-spy is not a project dependency: `.venv/bin/pip install py-spy` for a local run."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# "name (path/to/file.py:123)" in py-spy's collapsed (raw) stacks
_FRAME = re.compile(r"^(?P<name>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")


_WAITING = ("EpollSelector.select ", "Condition.wait ", "_worker (concurrent/futures/thread.py)")


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, output: Path, rate: int = 100) -> subprocess.Popen[bytes] | None:
    binary = py_spy()
    if binary is None:
        print("py-spy not found: no profile (pip install py-spy into the venv for a local run)")
        return None
    argv = [binary, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--output", str(output)]
    return subprocess.Popen([*argv, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None:
        process.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        process.wait(timeout=60)


def _frame(text: str) -> str:
    match = _FRAME.match(text.strip())
    if match is None:
        return text.strip()
    path = match["file"]
    for marker in ("site-packages/", f"{REPO}/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['name']} ({path})"


def summary(output: Path, top: int = 12, ours: tuple[str, ...] = ()) -> str:
    """The frames with the most samples: inclusive (on the stack) and self (on top)."""
    if not output.exists():
        return f"(no profile at {output})"
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in output.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames or frames[-1].startswith(_WAITING):
            continue  # a thread waiting (py-spy counts some of them as busy): not where CPU goes
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if not total:
        return "(empty profile)"

    def lines(counter: Counter[str], keep: tuple[str, ...]) -> list[str]:
        picked = [(f, n) for f, n in counter.most_common() if not keep or any(f"({k}" in f for k in keep)]
        return [f"    {100 * n / total:5.1f}%  {f}" for f, n in picked[:top]]

    parts = [f"  {total} samples busy", "  on the stack (inclusive), project code:"]
    parts += lines(inclusive, ours)
    parts += ["  on top (self), anywhere:", *lines(own, ())]
    return "\n".join(parts)
