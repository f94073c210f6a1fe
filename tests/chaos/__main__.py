"""`python -m tests.chaos [--form short|full] [--seed N] [--loans N] [--calm N] [--keep]`.

Exits 0 when every must-be-zero figure is zero and every fault the form promises was
injected; 1 otherwise; 2 when the run itself could not be made (a part did not start, the
run's time limit passed)."""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
from types import FrameType

from tests.chaos.forms import FORMS, with_overrides
from tests.chaos.run import run_chaos


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--form", choices=sorted(FORMS), default="full")
    parser.add_argument("--seed", type=int, default=None, help="repeat a run: the seed it printed")
    parser.add_argument("--loans", type=int, default=None, help="loans driven under chaos (default: the form's)")
    parser.add_argument("--calm", type=int, default=None, help="loans driven first without faults")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs, databases)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    form = with_overrides(FORMS[args.form], loans=args.loans, calm_loans=args.calm)
    # Ctrl-C and SIGTERM stop the run the same way, every part stopped on the way out — also
    # when started from a shell that ignores SIGINT for background jobs (Python would inherit it)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        outcome = asyncio.run(run_chaos(form, seed, keep=args.keep))
    except KeyboardInterrupt:
        print(f"chaos: interrupted (seed {seed}); every part was stopped", file=sys.stderr)
        return 130
    except (TimeoutError, RuntimeError) as error:
        print(f"chaos: the run could not be completed (seed {seed}): {error}", file=sys.stderr)
        return 2
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main())
