"""Weather from Open-Meteo (no API key): places by name, and forecasts by the hour or by the day.

A leaf: it knows Open-Meteo's two endpoints and nothing about Telegram or the bot.

    weather = OpenMeteo()
    place, part = weather.find_place("Regent's Park Tennis Centre, London")  # London, "London"
    hours = weather.hourly(place, start, end)  # one HourlyWeather per hour overlapping the range
    days = weather.daily(place, first_day, last_day)

Free use is capped (600 calls a minute, 10 000 a day), so answers are kept in memory for
`cache_minutes`. The base URLs are arguments because Open-Meteo can be self-hosted. An answer
is read whole within twice the timeout and up to 2 MB (a server that drips bytes or never stops
sending is given up on), and 429/5xx answers are retried with backoff, jitter and Retry-After as
integrations/http.py sets out; a failure is a WeatherError whose message says the weather is
unavailable right now and why.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from time import monotonic
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    import requests

FORECAST_URL = "https://api.open-meteo.com/v1/forecast"
GEOCODING_URL = "https://geocoding-api.open-meteo.com/v1/search"

# Said in the reply next to the calendar's answer, which still stands.
UNAVAILABLE = "Weather unavailable right now"
NOT_ANSWERING = f"{UNAVAILABLE}: the weather service isn't answering."
BUSY = f"{UNAVAILABLE}: the weather service is busy. Try again in a minute."
UNREADABLE = f"{UNAVAILABLE}: the weather service sent an answer I couldn't read."
# A 16-day hourly forecast is about 60 kB: anything far larger is not an answer.
MAX_ANSWER_BYTES = 2_000_000
TOO_FAR = "That's more than 16 days ahead: too far for a forecast."
PASSED = "That day has already passed."

# WMO weather interpretation codes, as Open-Meteo documents them, in words for a sentence.
WMO_DESCRIPTIONS: dict[int, str] = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    48: "freezing fog",  # "depositing rime fog" in the WMO table
    51: "light drizzle",
    53: "moderate drizzle",
    55: "dense drizzle",
    56: "light freezing drizzle",
    57: "dense freezing drizzle",
    61: "light rain",
    63: "moderate rain",
    65: "heavy rain",
    66: "light freezing rain",
    67: "heavy freezing rain",
    71: "light snow",
    73: "moderate snow",
    75: "heavy snow",
    77: "snow grains",
    80: "light rain showers",
    81: "moderate rain showers",
    82: "violent rain showers",
    85: "light snow showers",
    86: "heavy snow showers",
    95: "thunderstorm",
    96: "thunderstorm with hail",
    99: "thunderstorm with heavy hail",
}
# The codes whose precipitation falls as snow; every other code's falls as rain (or drizzle, hail).
SNOW_CODES = frozenset({71, 73, 75, 77, 85, 86})

HOURLY_VARIABLES = (
    "temperature_2m",
    "apparent_temperature",
    "precipitation_probability",
    "precipitation",
    "weather_code",
    "wind_speed_10m",
)
DAILY_VARIABLES = (
    "weather_code",
    "temperature_2m_max",
    "temperature_2m_min",
    "precipitation_probability_max",
    "precipitation_sum",
)

_CACHE_ENTRIES = 256


def describe(code: int) -> str:
    """A WMO weather code in words ("light rain"); unknown codes still read as a phrase."""
    return WMO_DESCRIPTIONS.get(code, f"unknown weather (code {code})")


def falls_as(code: int) -> str:
    """What the precipitation of a WMO weather code is called: "snow" or "rain"."""
    return "snow" if code in SNOW_CODES else "rain"


@dataclass(frozen=True)
class Place:
    """A place found by name. `timezone` is its IANA zone; `admin1` its region, "" if none."""

    name: str
    country: str
    admin1: str
    latitude: float
    longitude: float
    timezone: str

    @property
    def zone(self) -> tzinfo:
        """The place's time zone; UTC when geocoding gave none or an unknown one."""
        return _zone(self.timezone)


@dataclass(frozen=True)
class HourlyWeather:
    """The forecast for the hour starting at `time` (aware, in the place's zone)."""

    time: datetime
    temperature: float
    apparent_temperature: float
    precipitation_probability: int | None
    precipitation: float
    weather_code: int
    description: str
    wind_speed: float


@dataclass(frozen=True)
class DailyWeather:
    """The forecast for one day at the place."""

    day: date
    temperature_max: float
    temperature_min: float
    precipitation_probability_max: int | None
    precipitation_sum: float
    weather_code: int
    description: str


class WeatherError(Exception):
    """Open-Meteo could not answer; the message is fit to show to the user."""


class ForecastOutOfRange(WeatherError):
    """The dates asked for have passed or lie beyond the forecast; no request was made."""


class _Cache:
    """A small thread-safe map from request URL to JSON answer, with expiry and a size bound."""

    def __init__(self, seconds: float, entries: int = _CACHE_ENTRIES) -> None:
        self._seconds = seconds
        self._entries = entries
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if monotonic() >= item[0]:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: str, value: Any) -> None:
        if self._seconds <= 0:
            return
        with self._lock:
            self._items[key] = (monotonic() + self._seconds, value)
            self._items.move_to_end(key)
            while len(self._items) > self._entries:
                self._items.popitem(last=False)  # the least recently used


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OpenMeteo:
    """Open-Meteo's geocoding and forecast APIs, with retries and an in-memory cache."""

    MAX_FORECAST_DAYS = 16

    def __init__(
        self,
        forecast_url: str = FORECAST_URL,
        geocoding_url: str = GEOCODING_URL,
        units: Literal["metric", "imperial"] = "metric",
        language: str = "en",
        timeout: float = 10.0,
        cache_minutes: float = 30,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if units not in ("metric", "imperial"):
            raise ValueError(f"units must be 'metric' or 'imperial', not {units!r}")
        self.forecast_url = forecast_url
        self.geocoding_url = geocoding_url
        self.units = units
        self.language = language
        self._timeout = timeout
        self._clock = clock
        self._cache = _Cache(cache_minutes * 60)
        # A session given by the caller is used as it comes: its transport is theirs. Without
        # one, it is made at the first request.
        self._session = session

    # --- units ----------------------------------------------------------------------------------

    @property
    def temperature_unit(self) -> str:
        return "°F" if self.units == "imperial" else "°C"

    @property
    def wind_unit(self) -> str:
        return "mph" if self.units == "imperial" else "km/h"

    @property
    def precipitation_unit(self) -> str:
        return "inch" if self.units == "imperial" else "mm"

    def _unit_params(self) -> dict[str, str]:
        # Metric is Open-Meteo's default: asking for it would only lengthen every URL.
        if self.units == "imperial":
            return {
                "temperature_unit": "fahrenheit",
                "wind_speed_unit": "mph",
                "precipitation_unit": "inch",
            }
        return {}

    # --- places ---------------------------------------------------------------------------------

    def geocode(self, name: str) -> Place | None:
        """The best match for a place name, or None when Open-Meteo knows no such place."""
        name = " ".join(name.split())
        if len(name) < 2:
            return None  # Open-Meteo never matches a single character: save the call
        params = {"name": name, "count": "1", "language": self.language, "format": "json"}
        answer = self._get(self.geocoding_url, params)
        results = answer.get("results") or []  # absent when nothing matches
        if not results:
            return None
        try:
            first = results[0]
            return Place(
                name=str(first["name"]),
                country=str(first.get("country") or ""),
                admin1=str(first.get("admin1") or ""),
                latitude=float(first["latitude"]),
                longitude=float(first["longitude"]),
                timezone=str(first.get("timezone") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WeatherError(UNREADABLE) from exc

    def find_place(self, text: str) -> tuple[Place, str] | None:
        """The place an event's location names, and the part of it that matched.

        Tries the whole text, then each comma-separated part from left to right, so
        "Regent's Park Tennis Centre, London" gives London when the centre itself isn't known.
        """
        parts = [" ".join(part.split()) for part in text.split(",")]
        parts = [part for part in parts if part]  # "Hall, , London," has two parts
        tried: set[str] = set()
        for candidate in [", ".join(parts), *parts]:
            if len(candidate) < 2 or candidate.casefold() in tried:
                continue
            tried.add(candidate.casefold())
            place = self.geocode(candidate)
            if place is not None:
                return place, candidate
        return None

    # --- forecasts ------------------------------------------------------------------------------

    def hourly(self, place: Place, start: datetime, end: datetime) -> list[HourlyWeather]:
        """The forecast for each hour overlapping [start, end), at least the hour holding start.

        Raises ForecastOutOfRange, before any request, when the whole range has passed or lies
        beyond the forecast.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        zone = place.zone
        first_hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        until = max(end, first_hour + timedelta(hours=1))
        now = self._clock()
        self._check_range(
            start.astimezone(zone).date(),
            until.astimezone(zone).date(),
            now.astimezone(zone).date(),
        )
        # Asked in GMT: Open-Meteo gives a whole series the UTC offset in force *today*, so local
        # hours after a daylight-saving change would be an hour off. Whole UTC days are asked for
        # so that several events on one day share a cached answer.
        last_day = min(
            (until.astimezone(UTC) - timedelta(microseconds=1)).date(),
            now.astimezone(UTC).date() + timedelta(days=self.MAX_FORECAST_DAYS - 1),
        )
        if first_hour.date() > last_day:
            raise ForecastOutOfRange(TOO_FAR)
        params = {
            "latitude": _coordinate(place.latitude),
            "longitude": _coordinate(place.longitude),
            "hourly": ",".join(HOURLY_VARIABLES),
            "timezone": "GMT",
            "start_date": first_hour.date().isoformat(),
            "end_date": last_day.isoformat(),
            **self._unit_params(),
        }
        block = self._block(self._get(self.forecast_url, params), "hourly", HOURLY_VARIABLES)
        hours = []
        try:
            for row in _rows(block, HOURLY_VARIABLES):
                at = datetime.fromisoformat(row["time"]).replace(tzinfo=UTC)
                if not first_hour <= at < until or _missing(row, "precipitation_probability"):
                    continue
                code = int(row["weather_code"])
                hours.append(
                    HourlyWeather(
                        time=at.astimezone(zone),
                        temperature=float(row["temperature_2m"]),
                        apparent_temperature=float(row["apparent_temperature"]),
                        precipitation_probability=_maybe_int(row["precipitation_probability"]),
                        precipitation=float(row["precipitation"]),
                        weather_code=code,
                        description=describe(code),
                        wind_speed=float(row["wind_speed_10m"]),
                    )
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise WeatherError(UNREADABLE) from exc
        return hours

    def daily(self, place: Place, first: date, last: date) -> list[DailyWeather]:
        """The forecast for each day from `first` to `last` (both included), in the place's zone.

        Raises ForecastOutOfRange, before any request, when every day has passed or lies beyond
        the forecast; days partly out of range are left out.
        """
        if last < first:
            raise ValueError("last must not be before first")
        today = self._clock().astimezone(place.zone).date()
        first, last = self._check_range(first, last, today)
        params = {
            "latitude": _coordinate(place.latitude),
            "longitude": _coordinate(place.longitude),
            "daily": ",".join(DAILY_VARIABLES),
            # Days are local; "auto" lets Open-Meteo pick the zone when geocoding gave none.
            "timezone": place.timezone or "auto",
            "start_date": first.isoformat(),
            "end_date": last.isoformat(),
            **self._unit_params(),
        }
        block = self._block(self._get(self.forecast_url, params), "daily", DAILY_VARIABLES)
        days = []
        try:
            for row in _rows(block, DAILY_VARIABLES):
                day = date.fromisoformat(row["time"])
                if not first <= day <= last or _missing(row, "precipitation_probability_max"):
                    continue
                code = int(row["weather_code"])
                days.append(
                    DailyWeather(
                        day=day,
                        temperature_max=float(row["temperature_2m_max"]),
                        temperature_min=float(row["temperature_2m_min"]),
                        precipitation_probability_max=_maybe_int(
                            row["precipitation_probability_max"]
                        ),
                        precipitation_sum=float(row["precipitation_sum"]),
                        weather_code=code,
                        description=describe(code),
                    )
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise WeatherError(UNREADABLE) from exc
        return days

    def _check_range(self, first: date, last: date, today: date) -> tuple[date, date]:
        """The part of [first, last] a forecast covers; ForecastOutOfRange when there is none."""
        horizon = today + timedelta(days=self.MAX_FORECAST_DAYS - 1)  # today is day one of 16
        if last < today:
            raise ForecastOutOfRange(PASSED)
        if first > horizon:
            raise ForecastOutOfRange(TOO_FAR)
        return max(first, today), min(last, horizon)

    @staticmethod
    def _block(answer: Mapping[str, Any], name: str, variables: tuple[str, ...]) -> dict[str, Any]:
        block = answer.get(name)
        if not isinstance(block, dict) or any(v not in block for v in ("time", *variables)):
            raise WeatherError(UNREADABLE)
        return block

    # --- HTTP -----------------------------------------------------------------------------------

    def _get(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        """The JSON answer for url+params, from the cache when a fresh copy is there."""
        # Imported here: requests with urllib3 is a tenth of the imports of `tandem ask`, and
        # most questions never need the weather.
        import requests

        from integrations.http import RETRY, TooLarge, TooSlow, download, retrying_session

        full_url = requests.Request("GET", url, params=params).prepare().url or url
        cached = self._cache.get(full_url)
        if cached is not None:
            return cached
        if self._session is None:
            self._session = retrying_session(self._timeout, RETRY)
        try:
            # Whole within a deadline and a size: a server dripping bytes, or sending without
            # end, must not hold the reply or fill the memory.
            response, body = download(
                self._session, full_url, seconds=2 * self._timeout, max_bytes=MAX_ANSWER_BYTES
            )
        except (requests.RequestException, TooSlow) as exc:
            # Timeouts, refused connections and retries used up on a connection error.
            raise WeatherError(NOT_ANSWERING) from exc
        except TooLarge as exc:
            raise WeatherError(UNREADABLE) from exc
        if response.status_code != 200:
            raise _error_for(response, body)
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise WeatherError(UNREADABLE) from exc
        if not isinstance(answer, dict):
            raise WeatherError(UNREADABLE)
        self._cache.put(full_url, answer)
        return answer


def _error_for(response: requests.Response, body: bytes) -> WeatherError:
    status = response.status_code
    if status == 429:
        return WeatherError(BUSY)
    if status >= 500:
        return WeatherError(NOT_ANSWERING)
    try:
        reason = json.loads(body).get("reason")
    except (ValueError, AttributeError):
        reason = None
    if status == 400 and reason:
        return WeatherError(f"The weather service refused the request: {reason}")
    return WeatherError(f"{UNAVAILABLE}: the weather service answered HTTP {status}.")


def _rows(block: Mapping[str, Any], variables: tuple[str, ...]) -> list[dict[str, Any]]:
    """Open-Meteo's column arrays turned into one dict per time step."""
    columns = ("time", *variables)
    # Columns of unequal length are a malformed answer: strict=True turns them into a ValueError.
    rows = zip(*(block[column] for column in columns), strict=True)
    return [dict(zip(columns, values, strict=True)) for values in rows]


def _missing(row: Mapping[str, Any], optional: str) -> bool:
    # Open-Meteo writes null where a model has no value; only the probability may be missing.
    return any(value is None for key, value in row.items() if key != optional)


def _maybe_int(value: float | None) -> int | None:
    return None if value is None else round(value)


def _coordinate(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")  # ~11 m: finer than any forecast grid


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
