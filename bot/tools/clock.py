"""The clock tool: what time it is for the user, or in a city or country they name.

Places are read from the time-zone database (tzdata): a city that names a zone ("Tokyo",
"New York", "Lisbon") or a country that keeps one time ("Japan", "Germany"). Anywhere else is
said to be unknown rather than guessed: a confident wrong time is worse than none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from bot.formatting import View, clock_time, day_name
from bot.tools.context import ToolContext


@dataclass(frozen=True)
class ClockReading:
    now: datetime
    timezone: str
    place: str = ""  # the place asked about, "" for the user's own
    known: bool = True  # False: the place's time zone is not known; `now` is the user's

    def for_model(self) -> str:
        if not self.known:
            return f"The time zone of {self.place!r} is not known. {self._shown()}"
        return self._shown()

    def for_person(self, view: View) -> str:
        if not self.known:
            return (
                f"I don't know the time zone of {self.place}. I can tell the time in a city "
                "the time-zone database names (Tokyo, New York, Lisbon…) or a country that "
                "keeps one time."
            )
        in_place = f" in {self.place}" if self.place else ""
        day = day_name(self.now.date(), view)
        return f"It's {clock_time(self.now, view.clock)}{in_place} on {day}."

    def _shown(self) -> str:
        return f"{self.now:%A %d %B %Y, %H:%M} ({self.timezone}, UTC{self.now:%z})"


def current_time(context: ToolContext, place: str = "") -> ClockReading:
    """The current date and time with the weekday: in the user's time zone, or in a place.

    Use it before working out relative dates such as "next Friday" or "in two weeks".

    Args:
        place: A city or a country whose time is asked about, e.g. "Tokyo" or "Japan"; leave
            empty for the user's own time.
    """
    now = context.now()
    if not place.strip():
        return ClockReading(now, context.user.timezone)
    named = place.strip()
    zone = zone_of(named)
    if zone is None:
        return ClockReading(now, context.user.timezone, named, known=False)
    return ClockReading(
        now.astimezone(ZoneInfo(zone)), zone, named.title() if named.islower() else named
    )


def zone_of(place: str) -> str | None:
    """The time zone a city or a country that keeps one time names, if the database knows it."""
    name = " ".join(place.lower().replace("_", " ").split())
    return _zones().get(name)


@cache
def _zones() -> dict[str, str]:
    """Names → zones: each zone's city ("new york" → America/New_York), then each country
    whose zones keep one time ("japan" → Asia/Tokyo)."""
    from importlib.resources import files

    import tzdata

    zones: dict[str, str] = {}
    for zone in sorted(available_timezones()):
        if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "US/")):
            zones.setdefault(zone.rsplit("/", 1)[1].replace("_", " ").lower(), zone)
    data = files(tzdata) / "zoneinfo"
    countries = dict(
        line.split("\t")[:2]
        for line in (data / "iso3166.tab").read_text().splitlines()
        if line and not line.startswith("#")
    )
    by_country: dict[str, list[str]] = {}
    for line in (data / "zone.tab").read_text().splitlines():
        if line and not line.startswith("#"):
            code, _, zone, *_ = line.split("\t")
            by_country.setdefault(code, []).append(zone)
    for code, found in by_country.items():
        if code in countries and len({_offsets(zone) for zone in found}) == 1:
            zones.setdefault(countries[code].lower(), found[0])
    return zones


def _offsets(zone: str) -> tuple[timedelta | None, ...]:
    """A zone's offsets in January and July: zones alike in both keep one time."""
    return tuple(ZoneInfo(zone).utcoffset(datetime(2026, month, 1)) for month in (1, 7))
