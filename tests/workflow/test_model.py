"""The model-based test of issue 9: random sequences of everything a financing can be sent or
suffer, on the time-skipping server, with issue 9's invariants checked after every step
(tests/workflow/model/, docs/reliability.md "The model").

    .venv/bin/pytest tests/workflow/test_model.py                      # CI: 25 examples x 30 steps
    ZCD_MODEL_EXAMPLES=500 .venv/bin/pytest tests/workflow/test_model.py -s   # a long run
    ZCD_MODEL_EXAMPLES=500 ZCD_MODEL_STEPS=60 ZCD_MODEL_SEED=7 .venv/bin/pytest ... -s
    ZCD_MODEL_TRACE=1 ZCD_MODEL_NO_SHRINK=1 ...   # print every example's steps; no shrinking

The CI run is derandomized (the same sequences every time, no example database); a long run
draws at random (its seed `ZCD_MODEL_SEED`, printed with `-s`) and prints what it covered. A
failure prints the shortest sequence hypothesis found: make it a test in
tests/workflow/test_model_regressions.py once the bug is fixed.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import get_state_machine_test

from tests.workflow.model.machine import RUNTIME, FinancingModel

EXAMPLES = int(os.environ.get("ZCD_MODEL_EXAMPLES", "25"))
STEPS = int(os.environ.get("ZCD_MODEL_STEPS", "30"))
LONG = "ZCD_MODEL_EXAMPLES" in os.environ


@pytest.fixture(scope="module")
def runtime() -> Iterator[None]:
    yield
    RUNTIME.close()


def test_the_model_holds(runtime: None) -> None:
    chosen = int(os.environ.get("ZCD_MODEL_SEED", random.randrange(2**32))) if LONG else 0
    configured = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=not LONG,
        database=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
        # ZCD_MODEL_NO_SHRINK: report the first failing sequence as found (quicker to iterate)
        phases=[Phase.explicit, Phase.generate] if os.environ.get("ZCD_MODEL_NO_SHRINK") else list(Phase),
    )
    FinancingModel.examples = FinancingModel.steps_run = 0
    FinancingModel.seen.clear()
    FinancingModel.trace_to = [] if os.environ.get("ZCD_MODEL_TRACE") else None
    started = time.monotonic()
    test = get_state_machine_test(FinancingModel, settings=configured)
    if LONG:
        print(f"\nmodel: seed {chosen}, {EXAMPLES} examples of up to {STEPS} steps")
        test = seed(chosen)(test)
    try:
        test()
    except BaseException:
        print(f"\nmodel: failed in example {FinancingModel.examples} ({FinancingModel.steps_run} steps run)")
        raise
    finally:
        for line in FinancingModel.trace_to or []:
            print(line)
    if LONG:
        print(
            f"model: {FinancingModel.examples} examples, {FinancingModel.steps_run} steps, "
            f"{time.monotonic() - started:.0f} s, seed {chosen}"
        )
        print("model: reached " + ", ".join(f"{k} {v}" for k, v in sorted(FinancingModel.seen.items())))
