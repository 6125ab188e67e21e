"""A calendar's secret address: one .ics file served over HTTP, as slowly as asked.

Tandem reads a calendar at an address with `calendars: [{type: ics, url: ...}]`; pointed here
(with `refresh_minutes: 0`, so every search fetches it again) each calendar search pays the
delay, as a slow calendar server would make it. The benchmarks in bench/ use it.

It speaks:
- GET <any path>   the file, as text/calendar, after `--delay` seconds; with `--drip S`, one
                   byte every S seconds (a server that never times out a per-read timeout).
- GET /_test/calls {"count": n}: how many times the file was fetched.

Any request can be made to fail as the real service fails (an error status, an HTML page, a
body cut off, dripping or without end, silence): `POST /_test/fault`, see tests/fakes/faults.py.

Run: python -m tests.fakes.ics_server [--port 0] [--file config/sample-calendar.ics] [--delay 0.2]
     [--drip 5]
It prints "PORT <n>" once listening. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fakes.faults import Faults, intercept

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "sample-calendar.ics"


# The faults a test queued (POST /_test/fault; see tests/fakes/faults.py).
FAULTS = Faults()


class Handler(BaseHTTPRequestHandler):
    server: Server

    def do_POST(self) -> None:  # the control API's only
        if not intercept(self, FAULTS):
            self.send_error(405)

    def do_GET(self) -> None:
        if intercept(self, FAULTS):
            return
        if self.path == "/_test/calls":
            self._send("application/json", json.dumps({"count": self.server.fetched}).encode())
            return
        with self.server.lock:
            self.server.fetched += 1
        time.sleep(self.server.delay)
        self._send("text/calendar; charset=utf-8", self.server.calendar, self.server.drip)

    def _send(self, content_type: str, data: bytes, drip: float = 0.0) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not drip:
                self.wfile.write(data)
            for byte in range(len(data) if drip else 0):
                self.wfile.write(data[byte : byte + 1])
                self.wfile.flush()
                time.sleep(drip)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the caller gave up waiting

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a burst of callers must not overflow the listen backlog

    def __init__(self, port: int, calendar: bytes, delay: float, drip: float) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.calendar, self.delay, self.drip = calendar, delay, drip
        self.lock = threading.Lock()
        self.fetched = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--file", type=Path, default=SAMPLE, help="the .ics file to serve")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to hold every answer")
    parser.add_argument("--drip", type=float, default=0.0, help="seconds between bytes sent")
    arguments = parser.parse_args()
    server = Server(arguments.port, arguments.file.read_bytes(), arguments.delay, arguments.drip)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
