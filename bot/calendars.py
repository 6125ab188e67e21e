"""Turn the config's `calendars:` list into one source that merges them all."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.config import CalendarSettings, GoogleCalendar, IcsCalendar, LoadedConfig
from integrations.calendar import CalendarError, CalendarSource, Event, Events
from integrations.calendar.ics import IcsCalendarSource

# Each .ics calendar's last expansion: a file in the data folder, named by calendar.
KEPT_EXPANSION = "calendar-{}.json"


@dataclass(frozen=True)
class MergedCalendar:
    sources: list[CalendarSource]
    when_empty: str = "No calendar is set up yet: add one under 'calendars:' in the config file."
    name: str = "all calendars"

    def events(self, start: datetime, end: datetime) -> Events:
        """Every calendar's events in one list. A calendar that cannot be read while others
        can costs only its own events, and the answer says which (`Events.unread`)."""
        if not self.sources:
            raise CalendarError(self.when_empty)
        each: list[list[Event]] = []
        unread: list[str] = []
        for source in self.sources:
            try:
                each.append(source.events(start, end))
            except CalendarError as error:
                if len(self.sources) == 1:
                    raise
                unread.append(f"Your calendar “{source.name}” could not be read: {error}")
        if not each:
            raise CalendarError(" ".join(unread))
        found = sorted(
            (event for events in each for event in events),
            key=lambda event: (event.start, not event.all_day, event.title),
        )
        notes = (note for events in each for note in getattr(events, "notes", ()))
        cancelled = (event for events in each for event in getattr(events, "cancelled", ()))
        return Events(found, notes, cancelled, unread)


@dataclass(frozen=True)
class UnavailableCalendar:
    """A calendar that could not be opened: asking it says why, instead of failing at start-up."""

    name: str
    error: CalendarError

    def events(self, start: datetime, end: datetime) -> list[Event]:
        raise self.error


def open_calendars(
    config: LoadedConfig,
    entries: Sequence[CalendarSettings] | None = None,
    data_dir: Path | None = None,
) -> MergedCalendar:
    """The given calendars (default: the owner's, `calendars:`) merged into one source; each
    .ics calendar keeps its last expansion in `data_dir` (default: the config's data folder)."""
    sources: list[CalendarSource] = []
    for entry in config.settings.calendars if entries is None else entries:
        if isinstance(entry, IcsCalendar):
            location = {"path": config.resolve(entry.path)} if entry.path else {"url": entry.url}
            named = f"{entry.name}\n{next(iter(location.values()))}".encode()
            kept = KEPT_EXPANSION.format(hashlib.sha256(named).hexdigest()[:16])
            sources.append(
                IcsCalendarSource(
                    entry.name,
                    refresh_minutes=entry.refresh_minutes,
                    download_seconds=entry.download_seconds,
                    max_download_mb=entry.max_download_mb,
                    max_occurrences_per_event=config.settings.search.max_occurrences_per_event,
                    kept_in=(data_dir or config.data_dir) / kept,
                    **location,
                )
            )
        elif isinstance(entry, GoogleCalendar):
            sources.append(open_google(entry, config))
    return MergedCalendar(sources)


def open_google(entry: GoogleCalendar, config: LoadedConfig) -> CalendarSource:
    # Imported here: the Google client is heavy, and most set-ups read only ICS.
    from integrations.calendar.google import GoogleCalendarSource
    from integrations.calendar.google_auth import load_credentials

    try:
        credentials = load_credentials(config.resolve(entry.token_file))
    except CalendarError as exc:
        return UnavailableCalendar(entry.name, exc)
    return GoogleCalendarSource(
        entry.name, entry.calendar_ids, credentials, api_endpoint=entry.api_endpoint
    )
