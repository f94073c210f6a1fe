"""`zcd simulators` as `zcd run` runs it: SIGTERM (or Ctrl-C) stops the three servers cleanly —
the requests in hand finish, the process exits 0 and says so, with no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.simulators.test_serve import free_ports

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_simulators_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    ports = dict(zip(("procurement", "bank", "treasury", "sms"), free_ports(4), strict=True))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZCD_")}
    env |= {"ZCD_DATA_DIR": str(tmp_path), "ZCD_LOG_FORMAT": "json"}
    env |= {f"ZCD_{name.upper()}_PORT": str(port) for name, port in ports.items()}
    log = tmp_path / "simulators.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "simulators"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{ports['treasury']}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)  # polling until the servers answer
        process.send_signal(sig)
        assert process.wait(timeout=15) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert "simulators.stopped" in text
    assert "Traceback" not in text
