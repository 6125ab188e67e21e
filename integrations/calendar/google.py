"""Google Calendar as a calendar source, read through the Calendar API v3 with a read-only sign-in.

Recurring events arrive already expanded (singleEvents=true). Failures become CalendarError
messages a user can act on; a sign-in that is missing, expired or revoked becomes
CalendarAuthError, which says to run `tandem auth google`.

Retries are the client library's own (`execute(num_retries=...)`): 5xx, 429 and the 403 rate-limit
reasons are asked again after a random pause of up to 2, then 4 seconds ("full jitter"). It does
not read Retry-After. It would also retry a timeout; here a timeout ends the call at once, so a
silent server costs the user `timeout` seconds, not three times that.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import google_auth_httplib2
import httplib2
from google.auth.credentials import Credentials
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from integrations.calendar import CalendarAuthError, CalendarError, Event
from integrations.calendar.google_auth import SIGN_IN_AGAIN, SIGN_IN_COMMAND

DEFAULT_TIMEOUT_SECONDS = 20.0
# Two retries wait at most 2 + 4 seconds in all (googleapiclient: random() * 2**retry).
DEFAULT_RETRIES = 2
PAGE_SIZE = 250
# 40 pages of 250 occurrences per calendar is far beyond any real query; the bound only stops
# a misbehaving server from keeping us in the loop forever.
MAX_PAGES = 40

NOT_ANSWERING = "Google Calendar isn't answering right now. Try again in a few minutes."

_API_DISABLED = {"accessNotConfigured", "SERVICE_DISABLED"}
_SCOPE_MISSING = {"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
_OVER_QUOTA = {
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "quotaExceeded",
    "dailyLimitExceeded",
    "RATE_LIMIT_EXCEEDED",
}


class CalendarInfo(NamedTuple):
    """One calendar the signed-in account can see, as offered by a "choose calendars" command."""

    id: str
    summary: str
    primary: bool


class GoogleCalendarSource:
    """Events from one or more Google calendars of one signed-in account."""

    def __init__(
        self,
        name: str,
        calendar_ids: Sequence[str],
        credentials: Credentials,
        api_endpoint: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        if not calendar_ids:
            raise ValueError("calendar_ids must name at least one calendar")
        self.name = name
        self.calendar_ids = list(calendar_ids)
        self._credentials = credentials
        self._api_endpoint = api_endpoint
        self._timeout = timeout
        self._retries = retries

    def events(self, start: datetime, end: datetime) -> list[Event]:
        """Every occurrence overlapping [start, end) in all the calendars, sorted by start."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        if end <= start:
            return []
        zone = start.tzinfo
        service = self._service()
        found: list[Event] = []
        for calendar_id in self.calendar_ids:
            with _user_facing_errors(calendar_id):
                pages = _pages(
                    service.events(),
                    self._retries,
                    calendarId=calendar_id,
                    singleEvents=True,
                    orderBy="startTime",
                    timeMin=start.isoformat(),
                    timeMax=end.isoformat(),
                    maxResults=PAGE_SIZE,
                )
                for page in pages:
                    calendar = page.get("summary") or calendar_id
                    calendar_zone = _zone(page.get("timeZone")) or zone
                    for item in page.get("items", []):
                        event = _to_event(item, calendar, zone, calendar_zone)
                        if event is not None and _overlaps(event, start, end):
                            found.append(event)
        found.sort(key=lambda event: (event.start, not event.all_day, event.title))
        return found

    def list_calendars(self) -> list[CalendarInfo]:
        """The calendars in the account's calendar list, with the names the user gave them."""
        service = self._service()
        with _user_facing_errors(None):
            return [
                CalendarInfo(
                    id=item["id"],
                    summary=item.get("summaryOverride") or item.get("summary") or item["id"],
                    primary=bool(item.get("primary", False)),
                )
                for page in _pages(service.calendarList(), self._retries, maxResults=PAGE_SIZE)
                for item in page.get("items", [])
            ]

    def _service(self) -> Any:
        # A fresh httplib2.Http per call: it is not thread-safe, and building from the bundled
        # discovery document costs about a millisecond.
        authorized = _TimeoutEndsTheCall(
            self._credentials,
            http=httplib2.Http(timeout=self._timeout),
            # One refresh on a 401 is enough: a 401 right after a fresh token won't clear.
            max_refresh_attempts=1,
        )
        options = {"api_endpoint": self._api_endpoint} if self._api_endpoint else None
        return build(
            "calendar",
            "v3",
            http=authorized,
            cache_discovery=False,
            static_discovery=True,
            client_options=options,
        )


class _TimedOut(Exception):
    """A request timed out. Deliberately not an OSError: googleapiclient retries those."""


class _TimeoutEndsTheCall(google_auth_httplib2.AuthorizedHttp):
    """AuthorizedHttp whose timeouts reach the caller unretried, as `_TimedOut`."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().request(*args, **kwargs)
        except TimeoutError as exc:  # socket.timeout is TimeoutError
            raise _TimedOut(str(exc)) from exc


def _pages(collection: Any, retries: int, **params: Any) -> Iterator[dict[str, Any]]:
    request = collection.list(**params)
    for _ in range(MAX_PAGES):
        if request is None:
            return
        response: dict[str, Any] = request.execute(num_retries=retries)
        yield response
        request = collection.list_next(request, response)


def _to_event(
    item: dict[str, Any], calendar: str, zone: tzinfo, calendar_zone: tzinfo
) -> Event | None:
    if item.get("status") == "cancelled":
        return None
    start, end = item.get("start") or {}, item.get("end") or {}
    if "date" in start:
        first = date.fromisoformat(start["date"])
        # An all-day end date is exclusive; a missing one means a single day.
        after = date.fromisoformat(end["date"]) if "date" in end else first + timedelta(days=1)
        begins = _midnight(first, zone)
        return _event(item, calendar, begins, max(_midnight(after, zone), begins), all_day=True)
    if "dateTime" not in start:
        return None
    begins = _instant(start, calendar_zone).astimezone(zone)
    ends = _instant(end, calendar_zone).astimezone(zone) if "dateTime" in end else begins
    return _event(item, calendar, begins, max(ends, begins), all_day=False)


def _event(
    item: dict[str, Any], calendar: str, start: datetime, end: datetime, *, all_day: bool
) -> Event:
    return Event(
        title=item.get("summary") or "(no title)",
        start=start,
        end=end,
        all_day=all_day,
        location=item.get("location", ""),
        description=item.get("description", ""),
        calendar=calendar,
        uid=item.get("id", ""),
        busy=item.get("transparency") != "transparent",
        tentative=item.get("status") == "tentative",
        # The user themselves ("self") is no answer to "who's coming?".
        attendees=tuple(
            person.get("displayName") or person.get("email", "")
            for person in item.get("attendees", [])
            if not person.get("self") and person.get("responseStatus") != "declined"
        ),
    )


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _instant(when: dict[str, Any], calendar_zone: tzinfo) -> datetime:
    value = datetime.fromisoformat(when["dateTime"])
    if value.tzinfo is None:
        # The API allows an offset-less time when the event names its zone.
        value = value.replace(tzinfo=_zone(when.get("timeZone")) or calendar_zone)
    return value


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _overlaps(event: Event, start: datetime, end: datetime) -> bool:
    # Google filters with the calendar's own zone for all-day events; placed in the query's zone
    # they can fall outside the range. A zero-length event counts if it happens inside it.
    if event.start == event.end:
        return start <= event.start < end
    return event.start < end and event.end > start


@contextmanager
def _user_facing_errors(calendar_id: str | None) -> Iterator[None]:
    try:
        yield
    except HttpError as exc:
        raise _from_http_error(exc, calendar_id) from exc
    except RefreshError as exc:
        if exc.retryable:
            raise CalendarError(NOT_ANSWERING) from exc
        raise CalendarAuthError(SIGN_IN_AGAIN) from exc
    except (
        _TimedOut,
        TransportError,
        httplib2.HttpLib2Error,
        http.client.HTTPException,
        OSError,
    ) as exc:
        # OSError covers timeouts, refused connections and TLS failures.
        raise CalendarError(NOT_ANSWERING) from exc


def _from_http_error(exc: HttpError, calendar_id: str | None) -> CalendarError:
    status = exc.status_code
    reasons = _reasons(exc)
    which = f"the calendar {calendar_id!r}" if calendar_id else "the list of calendars"
    if status == 401:
        return CalendarAuthError(SIGN_IN_AGAIN)
    if status == 403 and reasons & _SCOPE_MISSING:
        return CalendarAuthError(
            "Your Google sign-in doesn't allow reading calendars. "
            f"Sign in again with: {SIGN_IN_COMMAND}"
        )
    if status == 403 and reasons & _API_DISABLED:
        return CalendarError(
            "Google Calendar refused: the Google Calendar API isn't enabled in the Google Cloud "
            "project of Tandem's OAuth client. Enable it at https://console.cloud.google.com/ "
            '(APIs & Services > Library > "Google Calendar API"), wait a minute, and try again.'
        )
    if status == 429 or (status == 403 and reasons & _OVER_QUOTA):
        return CalendarError(
            "Google Calendar refused: the usage limit (quota) was reached. "
            "Try again in a few minutes."
        )
    if status == 403:
        return CalendarError(
            f"Google Calendar refused to show {which}. Likely causes: it isn't shared with the "
            "Google account Tandem signed in with, the Google Calendar API isn't enabled in "
            "the Google Cloud project, or the usage quota is used up."
        )
    if status == 404 and calendar_id:
        return CalendarError(
            f"Google Calendar has no calendar {calendar_id!r} that the signed-in account can "
            "see. Check calendar_ids in the config ('primary' is your main calendar)."
        )
    return CalendarError(NOT_ANSWERING)


def _reasons(exc: HttpError) -> set[str]:
    """The machine-readable reasons in a Google error body (old `errors` and newer `details`)."""
    try:
        error = json.loads(exc.content.decode("utf-8"))["error"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return set()
    if not isinstance(error, dict):
        return set()
    entries = [*error.get("errors", []), *error.get("details", [])]
    return {entry["reason"] for entry in entries if isinstance(entry, dict) and "reason" in entry}
