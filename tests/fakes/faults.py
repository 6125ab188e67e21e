"""Faults any fake server can throw, queued by a test: the ways a real service fails on the wire.

Every fake (Telegram, Open-Meteo, Anthropic, Google Calendar, an ICS address) takes
`POST /_test/fault` with one fault or a list; each is served instead of the real answer to the
next requests whose path contains `path` (default: any), `times` times (default 1; -1: until
`POST /_test/fault {"clear": true}`). A fault is one of these `kind`s:

- `status` (the default): HTTP `status` with `body` (JSON, or text when `body` is a string),
  `content_type` (default application/json) and `headers` (e.g. {"Retry-After": "2"}). The test
  gives the service's own error shape: Telegram's {"ok": false, "error_code": 403, "description":
  "Forbidden: bot was blocked by the user"}, Open-Meteo's {"error": true, "reason": "..."},
  Anthropic's {"type": "error", "error": {"type": "overloaded_error", ...}} with 529.
- `html`: an HTML error page with `status` (default 502), as a proxy in front of a service sends.
- `malformed`: 200, JSON content type, a body that is JSON cut in the middle (length declared
  right, so only the parse fails).
- `truncated`: 200 declaring `size` bytes (default 4096) and sending half, then closing.
- `stall`: 200 headers declaring a body, then nothing for `seconds` (default 3600): slow-loris.
- `drip`: 200 and a JSON object of `size` bytes, one byte every `seconds` (default 1).
- `huge`: 200, JSON content type, `size` bytes (default 64 MB): a valid JSON object.
- `close`: the connection is closed without a word.

Standard library only, like the fakes.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

CONTROL = "/_test/fault"
HTML_PAGE = (
    "<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass
class Fault:
    kind: str = "status"
    status: int = 500
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    path: str = ""
    times: int = 1
    seconds: float | None = None
    size: int | None = None


class Faults:
    """The faults queued on one fake, taken in order by the requests they match."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: list[Fault] = []
        self.served = 0

    def add(self, spec: dict[str, Any] | list[dict[str, Any]]) -> None:
        specs = spec if isinstance(spec, list) else [spec]
        with self._lock:
            if any(one.get("clear") for one in specs):
                self._queued.clear()
            self._queued += [Fault(**one) for one in specs if not one.get("clear")]

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._queued:
                if fault.path in path:
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self._queued.remove(fault)
                    self.served += 1
                    return fault
        return None


def intercept(handler: BaseHTTPRequestHandler, faults: Faults) -> bool:
    """Answer the request with a queued fault, or take a fault to queue; False: answer it
    as usual. Call first in do_GET / do_POST."""
    if handler.path.split("?")[0] == CONTROL:
        if handler.command == "GET":
            _write(handler, 200, "application/json", json.dumps({"served": faults.served}))
            return True
        length = int(handler.headers.get("Content-Length") or 0)
        faults.add(json.loads(handler.rfile.read(length) or b"{}"))
        _write(handler, 200, "application/json", '{"ok": true}')
        return True
    if handler.path.startswith("/_test/"):
        return False
    fault = faults.take(handler.path)
    if fault is None:
        return False
    length = int(handler.headers.get("Content-Length") or 0)
    handler.rfile.read(length)  # the request is read whole, as a server does before answering
    handler.close_connection = True
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
        _serve(handler, fault)
    return True


def _serve(handler: BaseHTTPRequestHandler, fault: Fault) -> None:
    if fault.kind == "status":
        body = fault.body if isinstance(fault.body, str) else json.dumps(fault.body or {})
        _write(handler, fault.status, fault.content_type, body, fault.headers)
    elif fault.kind == "html":
        status = fault.status if fault.status != 500 else 502
        _write(handler, status, "text/html", HTML_PAGE.format(status=status), fault.headers)
    elif fault.kind == "malformed":
        _write(handler, 200, "application/json", '{"ok": true, "result": {"message_id": 1, "te')
    elif fault.kind == "truncated":
        size = fault.size or 4096
        _head(handler, 200, "application/json", size)
        handler.wfile.write(b'{"ok": true, "padding": "' + b"x" * (size // 2))
        handler.wfile.flush()
    elif fault.kind == "stall":
        _head(handler, 200, "application/json", 1024)
        handler.wfile.flush()
        time.sleep(fault.seconds if fault.seconds is not None else 3600)
    elif fault.kind == "drip":
        size = fault.size or 1024
        _head(handler, 200, "application/json", size)
        for byte in _padded_json(size):
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(fault.seconds if fault.seconds is not None else 1.0)
    elif fault.kind == "huge":
        size = fault.size or 64 * 1024 * 1024
        _head(handler, 200, "application/json", size)
        head, chunk = b'{"padding": "', b"x" * 65536
        handler.wfile.write(head)
        left = size - len(head) - 2
        while left > 0:
            handler.wfile.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)
        handler.wfile.write(b'"}')
    elif fault.kind == "close":
        handler.connection.close()
    else:
        _write(handler, 500, "text/plain", f"the fake knows no fault {fault.kind!r}")


def _padded_json(size: int) -> bytes:
    head = b'{"padding": "'
    return head + b"x" * max(0, size - len(head) - 2) + b'"}'


def _head(handler: BaseHTTPRequestHandler, status: int, content_type: str, length: int) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(length))
    handler.send_header("Connection", "close")
    handler.end_headers()


def _write(
    handler: BaseHTTPRequestHandler,
    status: int,
    content_type: str,
    body: str,
    headers: dict[str, str] | None = None,
) -> None:
    data = body.encode()
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
