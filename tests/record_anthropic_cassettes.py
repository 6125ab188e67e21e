"""Record the Messages API cassettes that tests/test_answer_llm.py replays.

Starts tests/fakes/anthropic_server.py in a subprocess, points the anthropic SDK at it with
ANTHROPIC_BASE_URL, and re-runs the recorded tests with `--record-mode=all`; the tests' vcr hook
stores the traffic under api.anthropic.com. The SDK parsing the fake's answers while recording
is the check that they have the documented shape; the fake refusing, as the API does, any request
that breaks a documented rule (tests/fakes/anthropic_rules.py) is the check on Tandem's
requests. Hand-written error cassettes are left alone.

Run from the project root:  .venv/bin/python -m tests.record_anthropic_cassettes
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.fakes import running, start_afresh
from tests.test_answer_llm import CASSETTES

RECORDED = [
    "tests/test_answer_llm.py::test_claude_writes_the_reply_from_the_events_found",
    "tests/test_answer_llm.py::test_the_chat_so_far_is_part_of_the_conversation",
]


def main() -> int:
    start_afresh(CASSETTES, [f"{test.split('::')[1]}.yaml" for test in RECORDED])
    with running("tests.fakes.anthropic_server") as base:
        env = {**os.environ, "ANTHROPIC_BASE_URL": base}
        command = [sys.executable, "-m", "pytest", "-q", "--record-mode=all", *RECORDED]
        return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
