"""How big a chaos run is: the two forms of issue 9 (short in `make test`, full in `make chaos`).

Every count and every wait is bounded here, so a run always stops by itself. The minimum fault
counts are promises the run checks at the end (a run that injected fewer says so and fails):
a form that only *might* kill a worker proves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ChaosForm:
    name: str
    loans: int  # driven while faults are injected
    calm_loans: int  # driven first, with no fault at all: the baseline of the latency figures
    concurrency: int  # loans in flight at once (2 cores: more only queues)
    worker_kills: int  # SIGKILLs of a worker, at least this many
    temporal_restarts: int
    api_restarts: int
    pg_restarts: int
    kill_every_seconds: tuple[float, float]  # a worker is killed after a pause drawn from this range
    bank_error_rate: float
    bank_latency_ms: int
    bank_outage_seconds: float
    step_seconds: float  # how long one loan's driver waits for one step before reporting it stuck
    settle_seconds: float  # after the last fault: how long the run waits for every loan to finish
    run_seconds: float  # the whole run, start to checks; past it the run is stopped and fails


SHORT = ChaosForm(
    name="short",
    loans=20,
    calm_loans=0,
    concurrency=8,
    worker_kills=8,
    temporal_restarts=1,
    api_restarts=1,
    pg_restarts=0,
    kill_every_seconds=(2.0, 4.0),
    bank_error_rate=0.3,
    bank_latency_ms=200,
    bank_outage_seconds=3.0,
    # a worker killed mid-activity: its activity is retried only after the 30 s start-to-close
    # timeout, and then with backoff; steps and the settle-down allow for that, no more
    step_seconds=120.0,
    settle_seconds=90.0,
    run_seconds=540.0,
)

FULL = ChaosForm(
    name="full",
    loans=150,
    calm_loans=30,
    concurrency=10,
    worker_kills=30,
    temporal_restarts=2,
    api_restarts=2,
    pg_restarts=1,
    kill_every_seconds=(2.0, 5.0),
    bank_error_rate=0.3,
    bank_latency_ms=200,
    bank_outage_seconds=4.0,
    step_seconds=180.0,
    settle_seconds=180.0,
    run_seconds=2400.0,
)

FORMS = {form.name: form for form in (SHORT, FULL)}


def with_overrides(form: ChaosForm, *, loans: int | None = None, calm_loans: int | None = None) -> ChaosForm:
    """The form with another number of loans (the fault counts stay: they are the point)."""
    return replace(
        form,
        loans=form.loans if loans is None else loans,
        calm_loans=form.calm_loans if calm_loans is None else calm_loans,
    )
