"""Moves the clock of every Python process the tests start, when the suite runs with `--clock`.

tests/conftest.py puts this folder on PYTHONPATH and sets TESTS_CLOCK_OFFSET (seconds between
the real clock and the chosen one); Python imports `sitecustomize` at start-up, so `tandem`
and the fake servers see the same moved clock as the tests, ticking on from there.
"""

import os

if offset := os.environ.get("TESTS_CLOCK_OFFSET"):
    import time

    import time_machine

    time_machine.travel(time.time() + float(offset), tick=True).start()
