"""Calendars published as iCalendar (.ics): a local file, or a secret address (https or webcal).

`icalendar` parses the file, `x_wr_timezone` undoes Google's X-WR-TIMEZONE habit of writing
recurring local times in UTC, and `recurring_ical_events` expands the repeats (RRULE, RDATE,
EXDATE, moved instances, VTIMEZONE and daylight saving).

An address is fetched through integrations/http.py: within a size cap and one deadline for the
whole download, and 429/5xx answers are retried with backoff, jitter and Retry-After; what
still fails is a CalendarError that says the calendar couldn't be read and why, so no answer is
built from a calendar that wasn't read.

The last expansion is also kept in a file (`kept_in`, in the data folder) under the digest of
the calendar it came from, so a new process (`tandem ask`) whose question falls inside it reads
that file instead of importing the iCalendar libraries and parsing and expanding the calendar
again; a changed calendar has another digest, and is expanded anew.

Nothing in a calendar can exhaust the machine: a download is parsed once, a series is expanded
lazily, at most `max_occurrences_per_event` times per question, and one that needs more than
_STEPS_PER_SERIES steps from its first occurrence to reach the question (a rule repeating every
second since last year) is left out. Both are said in the answer's notes, and so are events
that could not be read at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from integrations.calendar import (
    DOWNLOAD_SECONDS,
    MAX_DOWNLOAD_MB,
    MAX_OCCURRENCES_PER_EVENT,
    CalendarError,
    Event,
    Events,
)

if TYPE_CHECKING:
    import icalendar
    import recurring_ical_events
    import requests
    from dateutil.rrule import rrule

log = logging.getLogger(__name__)

# Ask the library for a wider range than the window, then filter exactly ourselves: the query's
# zone and an event's zone may be up to 26 hours apart, and floating times follow the query's.
_MARGIN = timedelta(days=2)
# Each expansion reaches at least this far ahead, and this far past the window asked for, so
# the next questions reuse it: a window that ends a moment later each time (the words of the
# user's events, read from a month back to the search horizon) would otherwise be expanded anew
# at every question.
_EXPAND_AHEAD = timedelta(days=120)
_EXPAND_PAST = timedelta(days=7)
# A series is expanded from its first occurrence: past this many steps it is left out. Every
# hour for twenty years is 175,000; every second since last month is millions.
_STEPS_PER_SERIES = 200_000
# The shape of a kept expansion's file: a file of another shape is not read.
_KEPT_FORMAT = 1
_EVENT_FIELDS = [field.name for field in dataclasses.fields(Event)]


class _TooDense(Exception):
    """A series needed more than _STEPS_PER_SERIES steps."""


class _LazyRule:
    """A dateutil rule as recurring_ical_events uses it (`between`, `until`), but lazy: it keeps
    nothing it made (dateutil's cache would keep every occurrence ever made) and gives up after
    `steps` occurrences from the series' first."""

    def __init__(self, rule: rrule, steps: int) -> None:
        self.until = getattr(rule, "until", None)
        self._rule = rule.replace(cache=False)
        self._steps = steps

    def between(self, after: datetime, before: datetime, inc: bool = False) -> Iterator[datetime]:
        for made, moment in enumerate(self._rule, 1):
            if moment > before or (moment == before and not inc):
                return
            if made > self._steps:
                raise _TooDense
            if moment > after or (moment == after and inc):
                yield moment


def _without_unclosed_events(data: bytes) -> tuple[bytes, int]:
    """The calendar's text without the events that are never closed (the next event, or the
    calendar's end, comes before their END:VEVENT), and closed if it was cut off; with how many
    events were taken out."""
    kept: list[bytes] = []
    event: list[bytes] | None = None  # the lines of the event being read
    dropped = 0
    for line in data.splitlines(keepends=True):
        word = line.strip().upper()
        if event is None:
            if word == b"BEGIN:VEVENT":
                event = [line]
            else:
                kept.append(line)
        elif word in (b"BEGIN:VEVENT", b"END:VCALENDAR"):  # the open event never ended
            dropped += 1
            event = [line] if word == b"BEGIN:VEVENT" else None
            if event is None:
                kept.append(line)
        else:
            event.append(line)
            if word == b"END:VEVENT":
                kept += event
                event = None
    if event is not None:  # cut off inside an event
        dropped += 1
        kept.append(b"END:VCALENDAR\r\n")
    return b"".join(kept), dropped


@dataclass(frozen=True)
class _Parsed:
    """One parse of a calendar's text: the query, the series' titles, what could not be read."""

    query: recurring_ical_events.CalendarQuery
    titles: dict[str, str]  # series UID -> title, for the notes
    unreadable: int
    # series UID -> the zone its end is written in: an occurrence's end is moved to its start's
    end_zones: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Expansion:
    """The occurrences of one calendar text (`digest`) from `start`, complete until
    `complete_until`."""

    digest: bytes
    zone: tzinfo
    start: datetime
    complete_until: datetime
    events: list[Event]
    notes: list[str]  # said with every answer from it
    cuts: list[tuple[datetime, str]]  # said with an answer reaching past where a series was cut


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
        download_seconds: float = DOWNLOAD_SECONDS,
        max_download_mb: float = MAX_DOWNLOAD_MB,
        max_occurrences_per_event: int = MAX_OCCURRENCES_PER_EVENT,
        kept_in: Path | None = None,
    ) -> None:
        if (path is None) == (url is None):
            raise ValueError("give exactly one of path or url")
        self.name = name
        self._path = Path(path).expanduser() if path is not None else None
        self._url = url
        self._refresh_seconds = refresh_minutes * 60
        self._timeout = timeout
        self._download_seconds = download_seconds
        self._max_bytes = int(max_download_mb * 1_000_000)
        self._max_occurrences = max_occurrences_per_event
        self._session: requests.Session | None = None  # an address's, made at its first fetch
        self._kept_in = kept_in  # where the last expansion is kept between processes
        self._text = (b"", b"")  # the digest and bytes of the last file or download read
        self._parsed: tuple[bytes, _Parsed] | None = None  # a text's digest and parse
        self._stamp: object = None  # file: (mtime, size); address: when it was fetched
        # The last expansion. Expanding recurrences is the costly part of a search, and
        # questions keep asking about the same coming weeks.
        self._expanded: _Expansion | None = None

    def events(self, start: datetime, end: datetime) -> Events:
        """Every occurrence overlapping [start, end), sorted by start, in the zone of `start`;
        its notes say what could not be read or was cut short."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        found = self._occurrences(start, end)
        inside = [
            event
            for event in found.events
            if event.start < end
            # An event with no duration counts when it starts inside the window.
            and (event.end > start or event.start >= start)
        ]
        ordered = sorted(inside, key=lambda event: (event.start, event.end, event.title))
        cut_short = [note for when, note in found.cuts if when < end]
        listed = [event for event in ordered if not event.cancelled]
        called_off = [event for event in ordered if event.cancelled]
        return Events(listed, [*cut_short, *found.notes], called_off)

    def _occurrences(self, start: datetime, end: datetime) -> _Expansion:
        """Occurrences from `start` on: from the last expansion, in memory or kept in a file,
        when it covers [start, end)."""
        digest, zone = self._read(), start.tzinfo

        def covers(expansion: _Expansion) -> bool:
            return (
                expansion.digest == digest
                and expansion.zone == zone
                and expansion.start <= start < end <= expansion.complete_until
            )

        if (cached := self._expanded) and covers(cached):
            return cached
        if (kept := self._kept(digest, zone)) and covers(kept):
            self._expanded = kept
            return kept
        last = max(end + _EXPAND_PAST, start + _EXPAND_AHEAD)
        parsed = self._parse_read(digest)
        try:
            self._expanded = self._expand(*parsed, zone, start, last)
        except ValueError:
            raise self._error("it contains an event I cannot understand.") from None
        self._keep(self._expanded)
        return self._expanded

    def _expand(
        self, digest: bytes, parsed: _Parsed, zone: tzinfo, start: datetime, last: datetime
    ) -> _Expansion:
        """The occurrences from `start` to `last`: each series lazily, at most
        `max_occurrences_per_event` of them, and none that is too dense to reach."""
        import recurring_ical_events  # see _parse

        events: list[Event] = []
        notes: list[str] = []
        cuts: list[tuple[datetime, str]] = []
        skipped = tuple(recurring_ical_events.CalendarQuery.suppressed_errors)
        for series in parsed.query.series:
            title = parsed.titles.get(str(series.uid), "an event")
            kept = 0
            try:
                with suppress(*skipped):  # a broken series does not hide the rest
                    for occurrence in series.between(start - _MARGIN, last + _MARGIN):
                        event = self._event(occurrence.as_component(False), zone)
                        written = parsed.end_zones.get(event.uid, "")
                        own = "/" in written and written != getattr(zone, "key", "")
                        event = replace(event, end_zone=written if own else "")
                        if event.end < start:
                            continue
                        if kept == self._max_occurrences:
                            cuts.append((event.start, self._cut_short(title)))
                            break
                        events.append(event)
                        kept += 1
            except _TooDense:
                notes.append(f"I left out “{title}”: it repeats too often to read.")
                log.warning("calendar %r: a series repeats too often, left out", self.name)
        if parsed.unreadable:
            some = "1 event" if parsed.unreadable == 1 else f"{parsed.unreadable} events"
            notes.append(f"{some} in the calendar '{self.name}' could not be read.")
        # A series cut short is complete only up to where it was cut: reuse it no further.
        complete_until = min([last, *(when for when, _ in cuts)])
        return _Expansion(digest, zone, start, complete_until, events, notes, cuts)

    def _cut_short(self, title: str) -> str:
        log.warning(
            "calendar %r: a series reached max_occurrences_per_event (%d)",
            self.name,
            self._max_occurrences,
        )
        return (
            f"“{title}” repeats more than {self._max_occurrences} times here; "
            f"I read its first {self._max_occurrences} (search.max_occurrences_per_event)."
        )

    def _read(self) -> bytes:
        """The digest of the calendar's text, read again if the file changed or the address
        is due to be fetched again."""
        if self._path is not None:
            stamp: object = self._file_stamp()
            fresh = stamp == self._stamp
        else:
            stamp = monotonic()
            fresh = self._stamp is not None and stamp - self._stamp < self._refresh_seconds
        if not self._text[0] or not fresh:
            data = self._read_file() if self._path else self._fetch()
            digest = hashlib.sha256(data).digest()
            if digest != self._text[0]:  # unchanged: keep the parse and the expansion
                self._text = (digest, data)
            self._stamp = stamp
        return self._text[0]

    def _parse_read(self, digest: bytes) -> tuple[bytes, _Parsed]:
        """The text read last, parsed when first needed (an expansion kept in a file needs
        none), with its digest."""
        parsed = self._parsed
        if parsed is None or parsed[0] != digest:
            read, data = self._text  # one read: another thread may be reading the text anew
            parsed = (read, self._parse(data))
            self._parsed = parsed
        return parsed

    def _kept(self, digest: bytes, zone: tzinfo | None) -> _Expansion | None:
        """The expansion kept in `kept_in`, if it is of this calendar's text, in `zone`."""
        zone_name = getattr(zone, "key", None)
        if self._kept_in is None or zone is None or zone_name is None:
            return None
        try:
            kept = json.loads(self._kept_in.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # none yet, or cut short by a crash: expand anew
            return None
        if kept.get("key") != [_KEPT_FORMAT, digest.hex(), zone_name, *self._expanded_as()]:
            return None
        try:
            return _Expansion(
                digest,
                zone,
                datetime.fromisoformat(kept["start"]),
                datetime.fromisoformat(kept["complete_until"]),
                [_event_from(fields, zone) for fields in kept["events"]],
                kept["notes"],
                [(_local(when, fold, zone), note) for when, fold, note in kept["cuts"]],
            )
        except (KeyError, TypeError, ValueError):
            return None

    def _keep(self, expansion: _Expansion) -> None:
        """Keep `expansion` in `kept_in` for the next process; failing that, it is only lost."""
        zone_name = getattr(expansion.zone, "key", None)
        if self._kept_in is None or zone_name is None:
            return
        kept = {
            "key": [_KEPT_FORMAT, expansion.digest.hex(), zone_name, *self._expanded_as()],
            "start": expansion.start.isoformat(),
            "complete_until": expansion.complete_until.isoformat(),
            "events": [_event_fields(event) for event in expansion.events],
            "notes": expansion.notes,
            "cuts": [[*_wall(when), note] for when, note in expansion.cuts],
        }
        # Each thread writes its own file, then one replaces the other whole.
        partial = self._kept_in.with_name(f"{self._kept_in.name}.{threading.get_native_id()}")
        try:
            self._kept_in.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Events are private: the file is its owner's alone, as the rest of the data folder.
            created = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(created, "w", encoding="utf-8") as file:
                json.dump(kept, file)
            partial.replace(self._kept_in)
        except OSError as exc:
            log.warning("calendar %r: its expansion could not be kept (%s)", self.name, exc)
            partial.unlink(missing_ok=True)

    def _expanded_as(self) -> tuple[Any, ...]:
        """What a kept expansion depends on besides the text and zone: the events' calendar
        name, the cap on occurrences and the fields an event has."""
        return self.name, self._max_occurrences, _EVENT_FIELDS

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
        # Imported here: requests with urllib3 is a tenth of the imports of `tandem ask`, and a
        # calendar in a file never needs it.
        import requests

        from integrations.http import TooLarge, TooSlow, download, retrying_session

        url = self._checked_url()
        if self._session is None:
            self._session = retrying_session(self._timeout)
        try:
            response, body = download(
                self._session, url, seconds=self._download_seconds, max_bytes=self._max_bytes
            )
        except TooSlow:
            raise self._error(
                f"the address did not send it whole within {self._download_seconds:g} seconds."
            ) from None
        except TooLarge:
            raise self._error(
                f"it is larger than {self._max_bytes / 1_000_000:g} MB (max_download_mb)."
            ) from None
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
        return body

    def _parse(self, data: bytes) -> _Parsed:
        # Imported here: they take a fifth of a second, and a process whose questions fall in a
        # kept expansion never needs them.
        import icalendar
        import recurring_ical_events
        import x_wr_timezone
        from dateutil.rrule import rrule

        source = f"the file {self._path}" if self._path else "the address"
        unclosed = 0
        try:
            calendar = icalendar.Calendar.from_ical(data)
        except ValueError:  # an event left open (a line lost, a file cut off) spoils the whole
            data, unclosed = _without_unclosed_events(data)
            try:
                calendar = icalendar.Calendar.from_ical(data) if unclosed else None
            except ValueError:
                calendar = None
        if not isinstance(calendar, icalendar.Calendar):
            sent = "is not" if self._path else "did not send"
            raise self._error(f"{source} {sent} an iCalendar (.ics) file.")
        # recurring_ical_events stops at an event with no start, even told to skip bad series.
        kept = [
            part for part in calendar.subcomponents if part.name != "VEVENT" or "DTSTART" in part
        ]
        no_start = len(calendar.subcomponents) - len(kept)
        calendar.subcomponents = kept
        # An unknown X-WR-TIMEZONE: the UTC times are still right, so read them as they are.
        with suppress(ValueError, KeyError):
            calendar = x_wr_timezone.to_standard(calendar)
        try:
            # Not `recurring_ical_events.of()`: it applies X-WR-TIMEZONE again, and fails on an
            # unknown one. One broken series should not hide the rest of the calendar.
            query = recurring_ical_events.CalendarQuery(calendar, skip_bad_series=True)
        except ValueError:
            raise self._error(f"{source} contains a calendar I cannot understand.") from None
        for series in query.series:
            rules = getattr(series.recurrence, "rrules", [])
            rules[:] = [
                _LazyRule(rule, _STEPS_PER_SERIES) if isinstance(rule, rrule) else rule
                for rule in rules
            ]
        events = calendar.walk("VEVENT")
        read = {str(series.uid) for series in query.series}
        broken = {str(event.get("UID")) for event in events} - read  # series it had to skip
        unreadable = unclosed + no_start + len(broken)
        if unreadable:
            # Counts only: the events' text is the user's and may be private.
            log.warning("calendar %r: %d events could not be read", self.name, unreadable)
        titles = {str(event.get("UID")): str(event.get("SUMMARY", "")) for event in events}
        end_zones = {
            str(event.get("UID")): str(event["DTEND"].params.get("TZID", ""))
            for event in events
            if "DTEND" in event
        }
        return _Parsed(query, titles, unreadable, end_zones)

    def _event(self, component: icalendar.Component, zone: tzinfo) -> Event:
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
            busy=_busy(component, all_day=not isinstance(first, datetime)),
            tentative=str(component.get("STATUS", "")).upper() == "TENTATIVE",
            cancelled=str(component.get("STATUS", "")).upper() == "CANCELLED",
            attendees=_attendees(component),
            start_zone=_zone_name(first, zone),
            end_zone=_zone_name(last, zone),
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


def _wall(moment: datetime) -> tuple[str, int]:
    """An event's time as kept: its wall-clock time (its zone is the expansion's) and fold, which
    bring back the very same time, even one a floating time placed in a daylight-saving gap."""
    return moment.replace(tzinfo=None).isoformat(), moment.fold


def _local(wall: str, fold: int, zone: tzinfo) -> datetime:
    return datetime.fromisoformat(wall).replace(tzinfo=zone, fold=fold)


def _event_fields(event: Event) -> dict[str, Any]:
    fields = {}
    for name in _EVENT_FIELDS:
        value = getattr(event, name)
        if isinstance(value, datetime):
            value = dict(zip(("wall", "fold"), _wall(value), strict=True))
        fields[name] = list(value) if isinstance(value, tuple) else value
    return fields


def _event_from(fields: dict[str, Any], zone: tzinfo) -> Event:
    def value(kept: Any) -> Any:
        if isinstance(kept, dict):
            return _local(kept["wall"], kept["fold"], zone)
        return tuple(kept) if isinstance(kept, list) else kept

    return Event(**{name: value(kept) for name, kept in fields.items()})


def _place(moment: date | datetime, zone: tzinfo) -> datetime:
    """A start or end as an aware time in `zone`; a date becomes that day's local midnight."""
    if not isinstance(moment, datetime):
        return datetime.combine(moment, time(), tzinfo=zone)
    if moment.tzinfo is None:
        # A floating time means the same wall-clock time wherever the user is.
        return moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


def _attendees(component: icalendar.Component) -> tuple[str, ...]:
    """Who is invited and has not declined: each one's name (CN), else their address."""
    listed = component.get("ATTENDEE", [])
    people = listed if isinstance(listed, list) else [listed]
    return tuple(
        str(person.params.get("CN") or str(person).removeprefix("mailto:").removeprefix("MAILTO:"))
        for person in people
        if str(person.params.get("PARTSTAT", "")).upper() != "DECLINED"
    )


def _busy(component: icalendar.Component, all_day: bool) -> bool:
    """Whether the event takes up its time. As marked (TRANSP, or Outlook's busy status); else a
    timed event does and an all-day one does not: "Half term", "Working from home", "Mum's
    birthday" mark a period or a day, they are no appointment (Google, Apple and Outlook create
    all-day events as free too)."""
    status = str(component.get("X-MICROSOFT-CDO-BUSYSTATUS", "")).upper()
    transparency = str(component.get("TRANSP", "")).upper()
    if status:
        return status != "FREE"
    if transparency:
        return transparency != "TRANSPARENT"
    return not all_day


def _zone_name(moment: date | datetime, zone: tzinfo) -> str:
    """The zone a time was written in ("Europe/Madrid"), when it is not the user's."""
    written = getattr(moment, "tzinfo", None)
    name = str(getattr(written, "key", "") or getattr(written, "zone", "") or "")
    return name if "/" in name and name != getattr(zone, "key", "") else ""
