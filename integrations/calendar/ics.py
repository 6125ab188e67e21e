"""Calendars published as iCalendar (.ics): a local file, or a secret address (https or webcal).

`icalendar` parses the file, `x_wr_timezone` undoes Google's X-WR-TIMEZONE habit of writing
recurring local times in UTC, and `recurring_ical_events` expands the repeats (RRULE, RDATE,
EXDATE, moved instances, VTIMEZONE and daylight saving).

An address is fetched through integrations/http.py: it times out, and 429/5xx answers are
retried with backoff, jitter and Retry-After; what still fails is a CalendarError that says the
calendar couldn't be read and why, so no answer is built from a calendar that wasn't read.
"""

from __future__ import annotations

import hashlib
from contextlib import suppress
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from time import monotonic
from urllib.parse import urlsplit

import icalendar
import recurring_ical_events
import requests
import x_wr_timezone

from integrations.calendar import CalendarError, Event
from integrations.http import retrying_session

# Ask the library for a wider range than the window, then filter exactly ourselves: the query's
# zone and an event's zone may be up to 26 hours apart, and floating times follow the query's.
_MARGIN = timedelta(days=2)
# Each expansion reaches at least this far ahead, so the next questions reuse it.
_EXPAND_AHEAD = timedelta(days=120)


class IcsCalendarSource:
    """The events of one .ics calendar, read again at most every `refresh_minutes`.

    A file is read again as soon as it changes on disk; an address is fetched again once
    `refresh_minutes` have passed since the last fetch.
    """

    def __init__(
        self,
        name: str,
        *,
        path: str | Path | None = None,
        url: str | None = None,
        refresh_minutes: float = 15,
        timeout: float = 20.0,
    ) -> None:
        if (path is None) == (url is None):
            raise ValueError("give exactly one of path or url")
        self.name = name
        self._path = Path(path).expanduser() if path is not None else None
        self._url = url
        self._refresh_seconds = refresh_minutes * 60
        self._timeout = timeout
        self._session = retrying_session(timeout)
        self._query: recurring_ical_events.CalendarQuery | None = None
        self._stamp: object = None  # file: (mtime, size); address: when it was fetched
        self._digest = b""  # of the last file or download parsed
        # Occurrences already expanded: (query, zone, from, to, events). Expanding recurrences is
        # the costly part of a search, and questions keep asking about the same coming weeks.
        self._expanded: tuple[object, object, datetime, datetime, list[Event]] | None = None

    def events(self, start: datetime, end: datetime) -> list[Event]:
        """Every occurrence overlapping [start, end), sorted by start, in the zone of `start`."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        found = self._occurrences(start, end)
        inside = [
            event
            for event in found
            if event.start < end
            # An event with no duration counts when it starts inside the window.
            and (event.end > start or event.start >= start)
        ]
        return sorted(inside, key=lambda event: (event.start, event.end, event.title))

    def _occurrences(self, start: datetime, end: datetime) -> list[Event]:
        """Occurrences around [start, end): from the last expansion when it covers them."""
        query, zone = self._load(), start.tzinfo
        cached = self._expanded
        if (
            cached
            and cached[0] is query
            and cached[1] == zone
            and cached[2] <= start < end <= cached[3]
        ):
            return cached[4]
        first, last = start - _MARGIN, max(end, start + _EXPAND_AHEAD) + _MARGIN
        try:
            found = [self._event(component, zone) for component in query.between(first, last)]
        except ValueError:
            raise self._error("it contains an event I cannot understand.") from None
        events = [event for event in found if event is not None]
        self._expanded = (query, zone, first + _MARGIN, last - _MARGIN, events)
        return events

    def _load(self) -> recurring_ical_events.CalendarQuery:
        if self._path is not None:
            stamp: object = self._file_stamp()
            fresh = stamp == self._stamp
        else:
            stamp = monotonic()
            fresh = self._stamp is not None and stamp - self._stamp < self._refresh_seconds
        if self._query is None or not fresh:
            data = self._read_file() if self._path else self._fetch()
            digest = hashlib.sha256(data).digest()
            if self._query is None or digest != self._digest:  # unchanged: keep the expansion
                self._query, self._digest = self._parse(data), digest
            self._stamp = stamp
        return self._query

    def _file_stamp(self) -> tuple[int, int]:
        try:
            info = self._path.stat()
        except OSError as exc:
            raise self._file_error(exc) from None
        return info.st_mtime_ns, info.st_size

    def _read_file(self) -> bytes:
        try:
            return self._path.read_bytes()
        except OSError as exc:
            raise self._file_error(exc) from None

    def _fetch(self) -> bytes:
        url = self._checked_url()
        try:
            response = self._session.get(url, timeout=self._timeout)
        except requests.Timeout:
            raise self._error(
                f"the address did not answer within {self._timeout:g} seconds."
            ) from None
        except requests.exceptions.InvalidURL:
            raise self._error("the address is not a valid web address.") from None
        except requests.ConnectionError:
            raise self._error(f"I could not connect to {urlsplit(url).hostname}.") from None
        except requests.RequestException:
            raise self._error("the address could not be fetched.") from None
        status = response.status_code
        if status == 429:
            # Still busy after the retries, or asking for a longer pause than a reply can wait.
            raise self._error("its server is busy right now (HTTP 429). Try again in a minute.")
        if status >= 500:
            raise self._error(
                f"its server isn't answering right now (HTTP {status}). Try again in a few minutes."
            )
        if not response.ok:
            raise self._error(f"the address answered HTTP {status}.")
        return response.content

    def _parse(self, data: bytes) -> recurring_ical_events.CalendarQuery:
        source = f"the file {self._path}" if self._path else "the address"
        try:
            calendar = icalendar.Calendar.from_ical(data)
        except ValueError:
            calendar = None
        if not isinstance(calendar, icalendar.Calendar):
            sent = "is not" if self._path else "did not send"
            raise self._error(f"{source} {sent} an iCalendar (.ics) file.")
        # recurring_ical_events stops at an event with no start, even told to skip bad series.
        calendar.subcomponents = [
            part for part in calendar.subcomponents if part.name != "VEVENT" or "DTSTART" in part
        ]
        # An unknown X-WR-TIMEZONE: the UTC times are still right, so read them as they are.
        with suppress(ValueError, KeyError):
            calendar = x_wr_timezone.to_standard(calendar)
        try:
            # Not `recurring_ical_events.of()`: it applies X-WR-TIMEZONE again, and fails on an
            # unknown one. One broken series should not hide the rest of the calendar.
            return recurring_ical_events.CalendarQuery(calendar, skip_bad_series=True)
        except ValueError:
            raise self._error(f"{source} contains a calendar I cannot understand.") from None

    def _event(self, component: icalendar.Component, zone: tzinfo) -> Event | None:
        if str(component.get("STATUS", "")).upper() == "CANCELLED":
            return None
        first = component.decoded("DTSTART")
        last = component.decoded("DTEND") if "DTEND" in component else first
        return Event(
            title=str(component.get("SUMMARY", "")),
            start=_place(first, zone),
            end=_place(last, zone),
            all_day=not isinstance(first, datetime),
            location=str(component.get("LOCATION", "")),
            description=str(component.get("DESCRIPTION", "")),
            calendar=self.name,
            uid=str(component.get("UID", "")),
        )

    def _checked_url(self) -> str:
        # Checked when fetching, not when built, so one bad address cannot stop the bot starting.
        try:
            parts = urlsplit(self._url.strip())
            hostname = parts.hostname
        except ValueError:
            hostname = None
        if not hostname or parts.scheme.lower() not in ("https", "http", "webcal"):
            raise self._error("the address must start with https:// or webcal://.")
        if parts.scheme.lower() == "webcal":
            parts = parts._replace(scheme="https")
        return parts.geturl()

    def _file_error(self, exc: OSError) -> CalendarError:
        if isinstance(exc, FileNotFoundError):
            return self._error(f"the file {self._path} does not exist.")
        if isinstance(exc, IsADirectoryError):
            return self._error(f"{self._path} is a folder, not a file.")
        if isinstance(exc, PermissionError):
            return self._error(f"I am not allowed to read the file {self._path}.")
        return self._error(f"the file {self._path} could not be read ({exc.strerror}).")

    def _error(self, reason: str) -> CalendarError:
        return CalendarError(f"I couldn't read the calendar '{self.name}': {reason}")


def _place(moment: date | datetime, zone: tzinfo) -> datetime:
    """A start or end as an aware time in `zone`; a date becomes that day's local midnight."""
    if not isinstance(moment, datetime):
        return datetime.combine(moment, time(), tzinfo=zone)
    if moment.tzinfo is None:
        # A floating time means the same wall-clock time wherever the user is.
        return moment.replace(tzinfo=zone)
    return moment.astimezone(zone)
