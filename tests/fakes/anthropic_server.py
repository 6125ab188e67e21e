"""A local stand-in for the Messages API, used to record cassettes in the API's documented shape.

It answers `POST /v1/messages` like Claude would for Tandem's answer step: it reads the events in
the <calendar_data> block of the last user message and writes a short reply about them. Run it as
a separate process: see tests/record_anthropic_cassettes.py.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def reply_for(request: dict[str, Any]) -> str:
    last = request["messages"][-1]["content"]
    text = last if isinstance(last, str) else " ".join(b.get("text", "") for b in last)
    data = re.search(r"<calendar_data>\s*(\{.*\})\s*</calendar_data>", text, re.DOTALL)
    if not data:
        return "I don't have any calendar data to answer from."
    events = json.loads(data.group(1))["events"]
    if not events:
        return "There's nothing in your calendar for that."
    parts = []
    for event in events:
        if event["all_day"]:
            parts.append(f"{event['title']} (all day, {event['weekday']})")
        else:
            start = datetime.fromisoformat(event["start"])
            place = f" at {event['location']}" if event["location"] else ""
            parts.append(f"{event['title']} on {event['weekday']} at {start:%H:%M}{place}")
    return "You have " + "; ".join(parts) + "."


def message_for(request: dict[str, Any]) -> dict[str, Any]:
    text = reply_for(request)
    prompt = json.dumps(request.get("system", "")) + json.dumps(request["messages"])
    return {
        "id": "msg_01TandemFake" + str(len(prompt)),
        "type": "message",
        "role": "assistant",
        "model": request["model"],
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            # About four characters a token, as Claude's tokenizer roughly gives for English.
            "input_tokens": len(prompt) // 4,
            "output_tokens": len(text) // 4 + 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.path.split("?")[0] != "/v1/messages":
            self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": ""}})
            return
        self._send(200, message_for(body))

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", "req_fake")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    server = ThreadingHTTPServer(("127.0.0.1", parser.parse_args().port), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
