"""Local stand-ins for the outside APIs, each run in its own process, and what recording needs.

A fake runs as a subprocess, not a thread: a thread's real HTTP while vcrpy is active can
un-patch the HTTP clients process-wide for a moment (see shared/notes/offline-testing.md).
Each fake takes `--port 0` and prints `PORT <n>` once it listens.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def running(module: str, *arguments: str) -> Iterator[str]:
    """Run the fake server `module` in a subprocess; yield its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the fake server {module} did not start (said {line!r})")
        yield f"http://127.0.0.1:{line.split()[1]}"
    finally:
        process.terminate()
        process.wait(timeout=10)


class SilentServer:
    """A local port that accepts connections (the kernel completes them) and never answers.

    Nothing runs in the background: connections wait in the listen queue until `connections()`
    takes and counts them, so a test can tell how often a client tried, without timing it.
    """

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._counted = 0

    def connections(self) -> int:
        """How many connections were made to it so far."""
        while True:
            try:
                connection, _ = self._listener.accept()
            except BlockingIOError:
                return self._counted
            connection.close()
            self._counted += 1

    def close(self) -> None:
        self._listener.close()


@contextlib.contextmanager
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()


# Talks to the fakes only: no proxy, whatever the environment says.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@contextlib.contextmanager
def scratch_database(server: str) -> Iterator[str]:
    """A fresh database on the PostgreSQL server at `server` (a URL), dropped afterwards."""
    import psycopg

    parts = urlsplit(server)
    name = f"tandem_scratch_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def control(base: str, path: str, body: Any = None, timeout: float = 5.0) -> Any:
    """Call a fake's control API (`/_test/<path>`): JSON in, JSON out."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}/_test/{path}", data, {"Content-Type": "application/json"}
    )
    with _LOCAL.open(request, timeout=timeout) as response:
        return json.load(response)


def start_afresh(folder: Path, names: list[str]) -> None:
    """Remove the cassettes about to be recorded: in mode "all" vcrpy would keep old ones."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).unlink(missing_ok=True)


def without_varying_headers(response: dict[str, Any]) -> dict[str, Any]:
    """Drop the Server and Date headers: they would only make each recording differ."""
    for name in ("Server", "server", "Date", "date"):
        response["headers"].pop(name, None)
    return response


def report(name: str, cassette: Any, lines: list[str]) -> None:
    """Say what a recorded cassette holds, for the person running the recording."""
    print(f"{name}: {len(cassette.requests)} interactions")
    for request in cassette.requests:
        print(f"  {request.method} {request.uri}")
    for line in lines:
        print(f"    {line}")


def untouched_environment() -> dict[str, str]:
    """This process's environment without any setting of Tandem's, Telegram's, Claude's,
    OpenTelemetry's or DBOS's, so a Tandem started from a test or a benchmark gets only what
    it is given."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANTHROPIC_", "TANDEM_", "TELEGRAM_", "OTEL_", "DBOS"))
    }
