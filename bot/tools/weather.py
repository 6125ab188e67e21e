"""The weather tool: a forecast for a place and time, hour by hour for an event, else by day.

A reply speaks in the user's time zone, like every other reply: "Sunday 29 November at 00:36"
is the user's day and clock, and where the place's own clock differs it is said too
("Saturday 18:36 in Evanston"). A day's forecast is the place's own day of that date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.formatting import View, clock_time, day_name
from bot.places import names_a_place
from bot.tools.context import ToolContext
from bot.tools.untrusted import data_block
from integrations.weather import (
    DailyWeather,
    ForecastOutOfRange,
    HourlyWeather,
    OpenMeteo,
    Place,
    WeatherError,
    falls_as,
)

# An event up to this long gets its weather hour by hour; a longer range, day by day.
HOURLY_UP_TO = timedelta(hours=8)
MAX_DAYS = 7


@dataclass(frozen=True)
class WeatherReport:
    asked_place: str
    place: Place | None = None
    note: str = ""  # said before the forecast: a fallback to home, or why there is none
    at: datetime | None = None  # the time asked for, inside the forecast's hour
    hours: list[HourlyWeather] = field(default_factory=list)
    days: list[DailyWeather] = field(default_factory=list)
    units: tuple[str, str, str] = ("°C", "km/h", "mm")
    missing: str = ""  # the service failed: why there is no forecast (also in `note`)

    def for_model(self) -> str:
        temperature, wind, rain = self.units
        payload = {
            "asked_for": self.asked_place,
            "asked_time": self.at.isoformat() if self.at else None,
            "place": f"{self.place.name}, {self.place.country}" if self.place else None,
            "note": self.note or None,
            "units": {"temperature": temperature, "wind": wind, "precipitation": rain},
            "hourly": [_plain(hour) for hour in self.hours],
            "daily": [_plain(day) for day in self.days],
        }
        return data_block("weather_data", payload, "a forecast for a place named in the calendar")

    def for_person(self, view: View) -> str:
        temperature, wind, _ = self.units
        lines = [self.note] if self.note else []
        where = self.place.name if self.place else ""
        for hour in self.hours:
            at = self.at or hour.time  # the user's zone: the tool asks in it
            chance = _chance(hour.precipitation_probability, hour.weather_code)
            lines.append(
                f"Weather in {where}, {day_name(at.date(), view)} at "
                f"{clock_time(at, view.clock)}{self._there(at, view)}: {hour.description}, "
                f"{hour.temperature:.0f}{temperature} (feels like "
                f"{hour.apparent_temperature:.0f}{temperature}){chance}, "
                f"wind {hour.wind_speed:.0f} {wind}."
            )
        for day in self.days:
            chance = _chance(day.precipitation_probability_max, day.weather_code)
            lines.append(
                f"Weather in {where}, {day_name(day.day, view)}: {day.description}, "
                f"{day.temperature_min:.0f}–{day.temperature_max:.0f}{temperature}{chance}."
            )
        return "\n".join(lines)

    def _there(self, at: datetime, view: View) -> str:
        """The place's own time, where its clock differs from the user's: " (18:36 in Paris)"."""
        if self.place is None:
            return ""
        there = at.astimezone(self.place.zone)
        if there.utcoffset() == at.utcoffset():
            return ""
        day = f"{there:%A} " if there.date() != at.date() else ""
        return f" ({day}{clock_time(there, view.clock)} in {self.place.name})"


def weather_forecast(
    context: ToolContext,
    place: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
) -> WeatherReport:
    """The weather forecast for a place and time, from Open-Meteo.

    Use it for the weather at one of the user's events (pass the event's location, start and
    end) or at a place and day. A range of up to 8 hours gives the weather at its first hour;
    a longer range gives one line per day (at most 7 days). Forecasts reach 16 days ahead;
    past days have none. A place that cannot be found, or a location that is no place
    ("Online", "Zoom", a link), falls back to the user's home, and the result says so.

    Args:
        place: A place name or an event's location, e.g. "Dorking" or "Regent's Park Tennis
            Centre, London" (the most specific part that is found is used). Empty means home.
        start: Start of the time wanted, ISO 8601, e.g. "2026-12-05T09:00:00"; without an
            offset it is read in the user's time zone. Defaults to now.
        end: End of the time wanted (exclusive), e.g. "2026-12-06T00:00:00" for the whole of
            5 December. Defaults to one hour after start.
    """
    begin = context.localize(start) if start else context.now()
    finish = context.localize(end) if end else begin + timedelta(hours=1)
    weather = context.weather
    units = (weather.temperature_unit, weather.wind_unit, weather.precipitation_unit)
    # "my pottery class", from a question, names no place: "pottery class" is looked up.
    asked = re.sub(r"^(?:my|our)\s+", "", place.strip(), flags=re.IGNORECASE)
    try:
        found, note = _locate(weather, asked, context.user.home)
        if found is None:
            return WeatherReport(asked, note=note, units=units)
        if finish - begin <= HOURLY_UP_TO:
            hours = weather.hourly(found, begin, begin + timedelta(hours=1))
            return WeatherReport(asked, found, note, begin, hours[:1], units=units)
        last_day = min(
            (finish - timedelta(microseconds=1)).date(), begin.date() + timedelta(MAX_DAYS - 1)
        )
        now = context.now()
        if finish > now:
            # Near midnight the user's day may be over where the place is, east of them: the
            # place's current day is then the nearest to what was asked.
            last_day = max(last_day, now.astimezone(found.zone).date())
        days = weather.daily(found, begin.date(), last_day)
        return WeatherReport(asked, found, note, days=days, units=units)
    except ForecastOutOfRange as exc:  # an honest answer: there is no forecast for then
        return WeatherReport(asked, note=str(exc), units=units)
    except WeatherError as exc:  # the service failed: the rest of the answer still stands
        return WeatherReport(asked, note=str(exc), units=units, missing=str(exc))


def _locate(weather: OpenMeteo, asked: str, home: str) -> tuple[Place | None, str]:
    """The place to forecast for, and what to tell the user about how it was chosen."""
    if asked and names_a_place(asked):
        match = weather.find_place(asked)
        if match is not None:
            place, part = match
            return place, "" if part == asked else f"(For {asked}, I used {place.name}.)"
    match = weather.find_place(home)
    if match is None:
        return None, f"I couldn't find your home place “{home}” to look up the weather."
    if not asked:
        return match[0], ""
    if not names_a_place(asked):
        return match[0], f"(For “{asked}”, I used your home, {home}.)"
    return match[0], f"I couldn't find “{asked}”, so this is the weather at home ({home})."


def _chance(probability: int | None, code: int) -> str:
    if probability is None:
        return ""
    return f", {probability}% chance of {falls_as(code)}"


def _plain(forecast: HourlyWeather | DailyWeather) -> dict[str, object]:
    return {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in vars(forecast).items()
    }
