"""What a chaos run prints: the faults injected, each check as a number with the lines behind
it, the delays under chaos and without, and one summary line last."""

from __future__ import annotations

import math
from collections.abc import Callable

from tests.chaos.checks import Findings
from tests.chaos.driver import Delays
from tests.chaos.forms import ChaosForm
from tests.chaos.monkey import Injected
from tests.chaos.processes import Crash

SHOWN_PER_CHECK = 25  # lines per finding kind; the count is always complete


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (no interpolation: a figure that was measured)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(len(ordered) * share))
    return ordered[rank - 1]


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}s"


def delay_lines(delays: Delays) -> list[str]:
    lines = []
    for what, measured in (("submit→201", delays.submit), ("payment→applied", delays.payment)):
        for phase in ("calm", "chaos"):
            values = measured[phase]
            if values:
                lines.append(
                    f"  {what:<16} {phase:<5} n={len(values):<4} p50={_seconds(percentile(values, 0.5))} "
                    f"p95={_seconds(percentile(values, 0.95))} max={_seconds(max(values))}"
                )
    return lines


def missing_faults(form: ChaosForm, injected: Injected) -> list[str]:
    """A run that injected less than its form promises proves less: it fails."""
    wanted = (
        ("worker kills", injected.worker_kills, form.worker_kills),
        ("Temporal restarts", injected.temporal_restarts, form.temporal_restarts),
        ("API restarts", injected.api_restarts, form.api_restarts),
        ("PostgreSQL restarts", injected.pg_restarts, form.pg_restarts),
    )
    return [f"{what}: {done} of at least {least}" for what, done, least in wanted if done < least]


def render(
    form: ChaosForm,
    seed: int,
    injected: Injected,
    crashes: list[Crash],
    findings: Findings,
    delays: Delays,
    seconds: float,
    out: Callable[[str], None] = print,
) -> str:
    out(f"chaos {form.name} form, seed {seed} (rerun: python -m tests.chaos --form {form.name} --seed {seed})")
    out(f"faults injected ({seconds:.0f} s):")
    for line in injected.log:
        out(f"  {line}")
    out(
        f"  worker kills {injected.worker_kills} (of them right after a payout {injected.payout_kills}), "
        f"Temporal restarts {injected.temporal_restarts}, API restarts {injected.api_restarts}, "
        f"PostgreSQL restarts {injected.pg_restarts}, bank outages {injected.bank_outages}"
    )
    out(f"parts that exited by themselves (restarted by the supervisor): {len(crashes)}")
    for crash in crashes[:SHOWN_PER_CHECK]:
        last = crash.last_lines.splitlines()[-1:] or [""]
        out(f"  {crash.at:7.1f}s {crash.part} exited {crash.exit_code}: {last[0][:240]}")
    out("loans per final stage: " + ", ".join(f"{s}={n}" for s, n in sorted(findings.stages.items())))
    out("payouts per disbursed loan: " + ", ".join(f"{k} payout(s): {n}" for k, n in sorted(findings.payouts.items())))
    out(
        f"payments and repayments credited exactly once: {findings.credited}; kept for ops as they should: "
        f"{findings.kept}"
    )
    missing = missing_faults(form, injected)
    for name, lines in (
        ("lost", findings.lost),
        ("double", findings.double),
        ("stuck", findings.stuck),
        ("mismatches", findings.mismatches),
        ("leaks", findings.leaks),
        ("faults not injected", missing),
    ):
        out(f"{name}: {len(lines)}")
        for line in lines[:SHOWN_PER_CHECK]:
            out(f"  - {line}")
        if len(lines) > SHOWN_PER_CHECK:
            out(f"  … and {len(lines) - SHOWN_PER_CHECK} more")
    out("delays (nearest-rank percentiles):")
    for line in delay_lines(delays):
        out(line)
    loans = sum(findings.stages.values())
    summary = (
        f"chaos: loans={loans} kills={injected.worker_kills} temporal_restarts={injected.temporal_restarts} "
        f"api_restarts={injected.api_restarts} pg_restarts={injected.pg_restarts} crashes={len(crashes)} "
        f"lost={len(findings.lost)} double={len(findings.double)} stuck={len(findings.stuck)} "
        f"mismatches={len(findings.mismatches)} leaks={len(findings.leaks)} faults_missing={len(missing)}"
    )
    out(summary)
    return summary
