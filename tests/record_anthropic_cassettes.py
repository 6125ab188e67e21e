"""Record the Messages API cassettes that tests/test_answer_llm.py replays.

Starts tests/fakes/anthropic_server.py in a subprocess, points the anthropic SDK at it with
ANTHROPIC_BASE_URL, and re-runs the recorded tests with `--record-mode=all`; the tests' vcr hook
stores the traffic under api.anthropic.com. The SDK parsing the fake's answers while recording
is the check that they have the documented shape. Hand-written error cassettes are left alone.

Run from the project root:  .venv/bin/python tests/record_anthropic_cassettes.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

RECORDED = [
    "tests/test_answer_llm.py::test_claude_writes_the_reply_from_the_events_found",
    "tests/test_answer_llm.py::test_the_chat_so_far_is_part_of_the_conversation",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> int:
    port = free_port()
    fake = subprocess.Popen([sys.executable, "-m", "tests.fakes.anthropic_server", str(port)])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        env = {**os.environ, "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}"}
        command = [sys.executable, "-m", "pytest", "-q", "--record-mode=all", *RECORDED]
        return subprocess.run(command, env=env).returncode
    finally:
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    sys.exit(main())
