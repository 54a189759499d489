"""`python -m tests.clocked MODULE [ARG ...]` runs MODULE as `python -m MODULE` would, with
its clock moved by `MYMEDIC_TEST_CLOCK_SHIFT` seconds and still ticking.

A browser test that needs a time of the clinic's day (free slots later today, a visit it can
check in) moves its own clock and its server's by the same amount (`clinic_time`), so that it
passes at any hour it runs, late in the Indian evening too."""

import os
import runpy
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import time_machine

SHIFT = "MYMEDIC_TEST_CLOCK_SHIFT"


def shifted(seconds: float) -> "time_machine.travel":
    """The clock `seconds` from now, ticking on from there."""
    return time_machine.travel(time.time() + seconds, tick=True)


@contextmanager
def clinic_time(at: datetime) -> Iterator[dict[str, str]]:
    """This process's clock at `at` (aware), ticking; yields the environment that starts a
    server's clock at the same time (tests.servers passes it to `python -m tests.clocked`)."""
    seconds = at.timestamp() - time.time()
    with shifted(seconds):
        yield {SHIFT: repr(seconds)}


def main() -> None:
    module, *arguments = sys.argv[1:]
    shifted(float(os.environ[SHIFT])).start()
    sys.argv = [module, *arguments]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
