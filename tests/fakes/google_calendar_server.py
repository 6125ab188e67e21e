"""A small stand-in for Google Calendar API v3 and Google's OAuth token endpoint.

Used only to record cassettes (see tests/record_google_cassettes.py): the real client libraries
talk to it, and their parsing of its answers checks that the JSON has the documented shape.

It speaks:
- GET  /calendar/v3/calendars/{calendarId}/events  events.list with singleEvents=true (recurring
  events expanded into instances, as Google does), orderBy=startTime, timeMin (filters on an
  event's end) / timeMax (on its start), maxResults and pageToken/nextPageToken.
- GET  /calendar/v3/users/me/calendarList           calendarList.list.
- POST /token                                        refresh_token and authorization_code grants.

Any request can be made to fail as the real service fails (an error status, an HTML page, a
body cut off, dripping or without end, silence): `POST /_test/fault`, see tests/fakes/faults.py.

Run: python -m tests.fakes.google_calendar_server [--port 0]. It prints "PORT <n>" once listening.
Standard library only, so it runs in any interpreter.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import zlib
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from tests.fakes.faults import Faults, intercept

SCOPE = "https://www.googleapis.com/auth/calendar.readonly"
# Google pages well below maxResults whenever it likes; a small page makes paging show up.
PAGE_SIZE = 5
EMAIL = "alex@example.com"
FAMILY = "family0x5sd8kq@group.calendar.google.com"

CALENDARS: dict[str, dict[str, Any]] = {
    EMAIL: {"summary": EMAIL, "timeZone": "Europe/London", "primary": True, "role": "owner"},
    FAMILY: {"summary": "Family", "timeZone": "Asia/Tokyo", "primary": False, "role": "writer"},
}

# Event resources as stored by Google: recurring events are masters with an RRULE.
EVENTS: dict[str, list[dict[str, Any]]] = {
    EMAIL: [
        {
            "id": "5q2sk3h2ocl1r0bbb9u3jmm7sd",
            "summary": "Standup",
            "description": "Daily sync, 15 minutes.",
            "location": "https://meet.google.com/abc-defg-hij",
            "start": {"dateTime": "2025-03-24T09:30:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2025-03-24T09:45:00", "timeZone": "Europe/London"},
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"],
        },
        {
            "id": "1hg9kc4vbd6t4hn7c7gq0j1o2e",
            "summary": "1:1 with Sam",
            "start": {"dateTime": "2025-03-17T14:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2025-03-17T14:30:00", "timeZone": "Europe/London"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=6"],
        },
        {
            "id": "7b1u5o0rl3kq0cq8v0n2v9p4ho",
            "summary": "Lisbon trip",
            "start": {"date": "2025-03-28"},
            "end": {"date": "2025-03-31"},
        },
        {
            "id": "2m7vto1sd6f9e8g0a4c3b2n1kk",
            "summary": "Dentist",
            "location": "12 High Street, London",
            "start": {"dateTime": "2025-04-02T16:00:00+01:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2025-04-02T16:30:00+01:00", "timeZone": "Europe/London"},
        },
        {
            "id": "0aa3p9vdd0q1r5o6l2ckdf0e3c",
            "summary": "Book club",
            "start": {"dateTime": "2025-04-10T19:00:00+01:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2025-04-10T21:00:00+01:00", "timeZone": "Europe/London"},
        },
    ],
    FAMILY: [
        {
            "id": "4c2k8m0ne4gu7q5c4i8ps1vbbl",
            "summary": "Call grandma",
            "start": {"dateTime": "2025-03-29T19:00:00+09:00", "timeZone": "Asia/Tokyo"},
            "end": {"dateTime": "2025-03-29T20:00:00+09:00", "timeZone": "Asia/Tokyo"},
        },
    ],
}

# Changes to single instances of recurring events, keyed by instance id.
EXCEPTIONS: dict[str, dict[str, Any]] = {
    "5q2sk3h2ocl1r0bbb9u3jmm7sd_20250401T083000Z": {"status": "cancelled"},
}

_WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
_HORIZON_DAYS = 400


def _rfc3339(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _parse_instant(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _bounds(event: dict[str, Any], calendar_zone: ZoneInfo) -> tuple[datetime, datetime]:
    def instant(when: dict[str, Any]) -> datetime:
        if "date" in when:
            return datetime.combine(date.fromisoformat(when["date"]), time(0), calendar_zone)
        value = datetime.fromisoformat(when["dateTime"])
        zone = ZoneInfo(when.get("timeZone", str(calendar_zone)))
        return value if value.tzinfo else value.replace(tzinfo=zone)

    return instant(event["start"]), instant(event["end"])


def _resource(event: dict[str, Any], calendar_id: str, calendar_zone: ZoneInfo) -> dict[str, Any]:
    """One event as events.list shows it: times with an offset, in the calendar's zone."""
    shown = {
        "kind": "calendar#event",
        "etag": f'"{zlib.crc32(event["id"].encode()):016d}"',
        "id": event["id"],
        "status": event.get("status", "confirmed"),
        "htmlLink": "https://www.google.com/calendar/event?eid="
        + base64.b64encode(f"{event['id']} {calendar_id}".encode()).decode().rstrip("="),
        "created": "2025-01-06T10:12:44.000Z",
        "updated": "2025-03-01T08:02:11.345Z",
        "summary": event["summary"],
        "creator": {"email": EMAIL, "self": True},
        "organizer": {"email": EMAIL, "self": True},
        "iCalUID": f"{event.get('recurringEventId', event['id'])}@google.com",
        "sequence": 0,
        "reminders": {"useDefault": True},
        "eventType": "default",
    }
    for key in ("description", "location", "recurringEventId", "originalStartTime"):
        if key in event:
            shown[key] = event[key]
    for key in ("start", "end"):
        when = event[key]
        if "date" in when:
            shown[key] = {"date": when["date"]}
        else:
            start, end = _bounds(event, calendar_zone)
            value = (start if key == "start" else end).astimezone(calendar_zone)
            shown[key] = {"dateTime": _rfc3339(value), "timeZone": when.get("timeZone")}
    return shown


def _instances(master: dict[str, Any], calendar_zone: ZoneInfo) -> list[dict[str, Any]]:
    """A recurring event's occurrences as singleEvents=true shows them (a small RRULE subset)."""
    rule = dict(
        part.split("=") for part in master["recurrence"][0].removeprefix("RRULE:").split(";")
    )
    first_start, first_end = _bounds(master, calendar_zone)
    zone = ZoneInfo(master["start"].get("timeZone", str(calendar_zone)))
    local_start = first_start.astimezone(zone)
    duration = first_end - first_start
    if rule["FREQ"] not in ("DAILY", "WEEKLY"):
        raise ValueError(f"this fake expands only DAILY and WEEKLY rules, not {rule['FREQ']}")
    if "BYDAY" in rule:
        days = set(rule["BYDAY"].split(","))
    elif rule["FREQ"] == "WEEKLY":
        days = {_WEEKDAYS[local_start.weekday()]}
    else:
        days = set(_WEEKDAYS)
    count = int(rule.get("COUNT", 10**6))
    found: list[dict[str, Any]] = []
    for offset in range(_HORIZON_DAYS):
        day = local_start.date() + timedelta(days=offset)
        if _WEEKDAYS[day.weekday()] not in days:
            continue
        if len(found) >= count:
            break
        # Wall-clock time is kept across daylight-saving changes, as RFC 5545 says.
        start = datetime.combine(day, local_start.time(), zone)
        end = start + duration
        utc = start.astimezone(UTC)
        instance_id = f"{master['id']}_{utc:%Y%m%dT%H%M%SZ}"
        instance = {
            **{k: v for k, v in master.items() if k != "recurrence"},
            "id": instance_id,
            "recurringEventId": master["id"],
            "originalStartTime": {"dateTime": _rfc3339(start), "timeZone": str(zone)},
            "start": {"dateTime": start.isoformat(), "timeZone": str(zone)},
            "end": {"dateTime": end.isoformat(), "timeZone": str(zone)},
        }
        # Google guarantees only id, status, recurringEventId and originalStartTime on a
        # cancelled instance but may send the rest too; sending it all checks the client skips it.
        found.append({**instance, **EXCEPTIONS.get(instance_id, {})})
    return found


def _list_events(calendar_id: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
    if query.get("orderBy") == "startTime" and query.get("singleEvents") != "true":
        return _error(400, "The requested ordering is not available for the particular query.")
    if query.get("singleEvents") != "true":
        return _error(400, "This fake only serves singleEvents=true.")
    time_min = _parse_instant(query.get("timeMin", "0001-01-01T00:00:00+00:00"))
    time_max = _parse_instant(query.get("timeMax", "9999-01-01T00:00:00+00:00"))
    if time_min is None or time_max is None:
        return _error(400, "Bad Request")
    if time_max <= time_min:
        return _error(400, "The specified time range is empty.")
    calendar_id = EMAIL if calendar_id == "primary" else calendar_id
    if calendar_id not in CALENDARS:
        return _error(404, "Not Found", reason="notFound")
    calendar = CALENDARS[calendar_id]
    zone = ZoneInfo(calendar["timeZone"])

    occurrences: list[tuple[datetime, dict[str, Any]]] = []
    for event in EVENTS[calendar_id]:
        expanded = _instances(event, zone) if "recurrence" in event else [event]
        for item in expanded:
            start, end = _bounds(item, zone)
            if end > time_min and start < time_max:
                occurrences.append((start, _resource(item, calendar_id, zone)))
    occurrences.sort(key=lambda pair: pair[0])

    size = min(int(query.get("maxResults", 250)), PAGE_SIZE)
    offset = _decode_page_token(query["pageToken"]) if "pageToken" in query else 0
    if offset is None:
        return _error(400, "Invalid page token value.")
    page = [item for _, item in occurrences[offset : offset + size]]
    body: dict[str, Any] = {
        "kind": "calendar#events",
        "etag": '"p33ce5mq1jfvog0o"',
        "summary": calendar["summary"],
        "description": "",
        "updated": "2025-03-01T08:02:11.345Z",
        "timeZone": calendar["timeZone"],
        "accessRole": calendar["role"],
        "defaultReminders": [{"method": "popup", "minutes": 10}],
        "items": page,
    }
    if offset + size < len(occurrences):
        body["nextPageToken"] = _encode_page_token(offset + size)
    return 200, body


def _list_calendars() -> tuple[int, dict[str, Any]]:
    items = [
        {
            "kind": "calendar#calendarListEntry",
            "etag": '"1741111111111000"',
            "id": calendar_id,
            "summary": calendar["summary"],
            "timeZone": calendar["timeZone"],
            "colorId": "14",
            "backgroundColor": "#9fe1e7",
            "foregroundColor": "#000000",
            "selected": True,
            "accessRole": calendar["role"],
            "defaultReminders": [],
            **({"primary": True} if calendar["primary"] else {}),
        }
        for calendar_id, calendar in CALENDARS.items()
    ]
    return 200, {
        "kind": "calendar#calendarList",
        "etag": '"p33c9lvfi3a0o0o"',
        "nextSyncToken": "CKCu-fKbtowDEhBhbGV4QGV4YW1wbGUuY29t",
        "items": items,
    }


def _token(form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
    # Google takes the client's id and secret in the form or as HTTP Basic auth; oauthlib sends
    # the latter, google-auth's refresh the former.
    if authorization.startswith("Basic "):
        client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        form = {"client_id": unquote(client_id), "client_secret": unquote(secret), **form}
    if not form.get("client_id") or not form.get("client_secret"):
        return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
    grant = form.get("grant_type")
    if grant == "refresh_token":
        if not form.get("refresh_token", "").startswith("1//"):
            return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
        return 200, {
            "access_token": "ya29.a0AfH6SMfake-refreshed-access-token",
            "expires_in": 3599,
            "scope": SCOPE,
            "token_type": "Bearer",
        }
    if grant == "authorization_code":
        if not (form.get("code") and form.get("redirect_uri") and form.get("code_verifier")):
            return 400, {"error": "invalid_request", "error_description": "Missing parameter"}
        return 200, {
            "access_token": "ya29.a0AfH6SMfake-first-access-token",
            "expires_in": 3599,
            "refresh_token": "1//0gfake-refresh-token",
            "scope": SCOPE,
            "token_type": "Bearer",
        }
    return 400, {"error": "unsupported_grant_type", "error_description": f"Invalid grant {grant}"}


def _error(status: int, message: str, reason: str = "badRequest") -> tuple[int, dict[str, Any]]:
    return status, {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


def _encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_page_token(token: str) -> int | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded))["o"])
    except (ValueError, KeyError, TypeError):
        return None


_UNAUTHENTICATED = (
    401,
    {
        "error": {
            "code": 401,
            "message": "Request had invalid authentication credentials. Expected OAuth 2 access "
            "token, login cookie or other valid authentication credential.",
            "errors": [
                {
                    "message": "Invalid Credentials",
                    "domain": "global",
                    "reason": "authError",
                    "location": "Authorization",
                    "locationType": "header",
                }
            ],
            "status": "UNAUTHENTICATED",
        }
    },
)


# The faults a test queued (POST /_test/fault; see tests/fakes/faults.py).
FAULTS = Faults()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if intercept(self, FAULTS):
            return
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if not self.headers.get("Authorization", "").startswith("Bearer ya29."):
            self._send(*_UNAUTHENTICATED)
            return
        path = parts.path
        prefix, suffix = "/calendar/v3/calendars/", "/events"
        if path.startswith(prefix) and path.endswith(suffix):
            self._send(*_list_events(unquote(path[len(prefix) : -len(suffix)]), query))
        elif path == "/calendar/v3/users/me/calendarList":
            self._send(*_list_calendars())
        else:
            self._send(*_error(404, "Not Found", reason="notFound"))

    def do_POST(self) -> None:
        if intercept(self, FAULTS):
            return
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length).decode()
        if urlsplit(self.path).path != "/token":
            self._send(*_error(404, "Not Found", reason="notFound"))
            return
        form = {key: values[-1] for key, values in parse_qs(body).items()}
        self._send(*_token(form, self.headers.get("Authorization", "")))

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"fake google: {format % args}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    port = parser.parse_args().port
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
