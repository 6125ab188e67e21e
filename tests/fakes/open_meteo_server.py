"""A small stand-in for Open-Meteo's forecast and geocoding APIs, in their documented JSON.

Used only to record cassettes (see tests/record_weather_cassettes.py): integrations/weather.py
talks to it, and its parsing of the answers checks that the JSON has the documented shape.

It speaks:
- GET /v1/search    name, count, language, format. A hit carries `results`; a miss has NO
  `results` key at all, as Open-Meteo does. Fewer than 2 characters never match.
- GET /v1/forecast  latitude, longitude, hourly / daily variable lists, timezone (an IANA name,
  GMT or auto), start_date / end_date or forecast_days, temperature_unit, wind_speed_unit,
  precipitation_unit. Like Open-Meteo, a whole series uses the UTC offset in force "today".
  Mistakes give HTTP 400 with {"error": true, "reason": ...}.

The weather is made up but steady: a function of place, day and hour, so recordings repeat.
Daily values are computed from the same hours, as Open-Meteo aggregates them.

For durability tests: `--delay SECONDS` holds every answer that long, and `GET /_test/calls`
lists the requests so far, `{"count": n, "calls": [{"seq", "path", "at", "answered"}]}`.

Any request can be made to fail as the real service fails (an error status, an HTML page, a
body cut off, dripping or without end, silence): `POST /_test/fault`, see tests/fakes/faults.py.

Run: python -m tests.fakes.open_meteo_server [--port 0] [--today 2026-11-25] [--delay 0.3]
It prints "PORT <n>" once listening. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tests.fakes.faults import Faults, intercept

# Entries as Open-Meteo's geocoding returns them (GeoNames data).
PLACES: list[dict[str, Any]] = [
    {
        "id": 2643743,
        "name": "London",
        "latitude": 51.50853,
        "longitude": -0.12574,
        "elevation": 25.0,
        "feature_code": "PPLC",
        "country_code": "GB",
        "admin1_id": 6269131,
        "timezone": "Europe/London",
        "population": 8961989,
        "country_id": 2635167,
        "country": "United Kingdom",
        "admin1": "England",
    },
    {
        "id": 2651051,
        "name": "Dorking",
        "latitude": 51.2324,
        "longitude": -0.33051,
        "elevation": 60.0,
        "feature_code": "PPL",
        "country_code": "GB",
        "admin1_id": 6269131,
        "admin2_id": 2636512,
        "timezone": "Europe/London",
        "population": 17098,
        "postcodes": ["RH4"],
        "country_id": 2635167,
        "country": "United Kingdom",
        "admin1": "England",
        "admin2": "Surrey",
    },
    {
        "id": 4891382,
        "name": "Evanston",
        "latitude": 42.04114,
        "longitude": -87.69006,
        "elevation": 184.0,
        "feature_code": "PPL",
        "country_code": "US",
        "admin1_id": 4896861,
        "timezone": "America/Chicago",
        "population": 74486,
        "country_id": 6252001,
        "country": "United States",
        "admin1": "Illinois",
    },
    {
        "id": 2988507,
        "name": "Paris",
        "latitude": 48.85341,
        "longitude": 2.3488,
        "elevation": 42.0,
        "feature_code": "PPLC",
        "country_code": "FR",
        "admin1_id": 3012874,
        "timezone": "Europe/Paris",
        "population": 2138551,
        "country_id": 3017382,
        "country": "France",
        "admin1": "Île-de-France",
    },
]

HOURLY = {
    "temperature_2m": "°C",
    "apparent_temperature": "°C",
    "precipitation_probability": "%",
    "precipitation": "mm",
    "weather_code": "wmo code",
    "wind_speed_10m": "km/h",
}
DAILY = {
    "weather_code": "wmo code",
    "temperature_2m_max": "°C",
    "temperature_2m_min": "°C",
    "precipitation_probability_max": "%",
    "precipitation_sum": "mm",
}
# A made-up but plausible run of skies, one entry per three hours.
SKIES = [63, 3, 3, 2, 2, 1, 0, 0, 1, 2, 3, 3, 45, 45, 3, 3, 51, 61]
WET = {51, 53, 55, 56, 57, 61, 63, 65, 66, 67, 80, 81, 82, 95, 96, 99}
PAST_DAYS, FORECAST_DAYS = 92, 16


class BadRequest(Exception):
    pass


def search(query: dict[str, str]) -> dict[str, Any]:
    name = query.get("name", "").strip().casefold()
    count = int(query.get("count", "10"))
    if not 1 <= count <= 100:
        raise BadRequest("Parameter count must be between 1 and 100.")
    if len(name) < 2:
        found = []
    elif len(name) == 2:  # two letters: exact matches only
        found = [p for p in PLACES if p["name"].casefold() == name]
    else:
        found = [p for p in PLACES if p["name"].casefold().startswith(name)]
    answer: dict[str, Any] = {"generationtime_ms": 0.4580021}
    if found:
        answer["results"] = found[:count]
    return answer


def weather_at(latitude: float, longitude: float, at: datetime) -> dict[str, float | int]:
    """Metric weather for the hour starting at `at` (UTC)."""
    local_hour = (at.hour + longitude / 15) % 24
    season = math.cos(2 * math.pi * (at.timetuple().tm_yday - 200) / 365)
    temperature = (
        28
        - 0.35 * abs(latitude)
        + 6 * season
        + 3 * math.sin(2 * math.pi * (local_hour - 9) / 24)
        + 2 * math.sin(at.toordinal() * 1.7 + longitude)
    )
    wind = 8 + 10 * abs(math.sin(at.toordinal() * 0.9 + at.hour / 5 + latitude))
    code = SKIES[(at.toordinal() * 8 + at.hour // 3) % len(SKIES)]
    wet = code in WET
    return {
        "temperature_2m": round(temperature, 1),
        "apparent_temperature": round(temperature - wind / 6, 1),
        "precipitation_probability": (
            55 + at.hour % 4 * 7 + at.toordinal() % 3 * 5
            if wet
            else (at.hour * 3 + at.toordinal()) % 20
        ),
        "precipitation": round(0.3 + (at.hour % 5) * 0.4, 1) if wet else 0.0,
        "weather_code": code,
        "wind_speed_10m": round(wind, 1),
    }


def in_units(variable: str, value: float | int, query: dict[str, str]) -> float | int:
    unit = HOURLY.get(variable) or DAILY[variable]
    if unit == "°C" and query.get("temperature_unit") == "fahrenheit":
        return round(value * 9 / 5 + 32, 1)
    if unit == "km/h" and query.get("wind_speed_unit") == "mph":
        return round(value / 1.609344, 1)
    if unit == "mm" and query.get("precipitation_unit") == "inch":
        return round(value / 25.4, 3)
    return value


def unit_label(variable: str, query: dict[str, str]) -> str:
    unit = HOURLY.get(variable) or DAILY[variable]
    if unit == "°C" and query.get("temperature_unit") == "fahrenheit":
        return "°F"
    if unit == "km/h" and query.get("wind_speed_unit") == "mph":
        return "mp/h"  # sic: Open-Meteo's own label
    if unit == "mm" and query.get("precipitation_unit") == "inch":
        return "inch"
    return unit


def variables(query: dict[str, str], key: str, known: dict[str, str]) -> list[str]:
    names = [name for name in query.get(key, "").split(",") if name]
    kind = "ForecastVariableDaily" if key == "daily" else "ForecastVariable"
    for name in names:
        if name not in known:
            raise BadRequest(f"Cannot initialize {kind} from invalid String value {name}.")
    return names


def forecast(query: dict[str, str], today: date) -> dict[str, Any]:
    try:
        latitude, longitude = float(query["latitude"]), float(query["longitude"])
    except (KeyError, ValueError):
        raise BadRequest(
            "Parameter 'latitude' and 'longitude' must have the same number of elements"
        ) from None
    if not -90 <= latitude <= 90:
        raise BadRequest(f"Latitude must be in range of -90 to 90°. Given: {latitude}.")
    if not -180 <= longitude <= 180:
        raise BadRequest(f"Longitude must be in range of -180 to 180°. Given: {longitude}.")
    zone_name = query.get("timezone", "GMT")
    if zone_name == "auto":
        nearest = min(
            PLACES,
            key=lambda p: (p["latitude"] - latitude) ** 2 + (p["longitude"] - longitude) ** 2,
        )
        zone_name = nearest["timezone"]
    try:
        zone = ZoneInfo("UTC" if zone_name.upper() in ("GMT", "UTC") else zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"Invalid timezone {zone_name}") from None
    # Open-Meteo's quirk, kept: one offset for the whole answer, the one in force now.
    offset = zone.utcoffset(datetime.combine(today, time(12)))
    assert offset is not None
    first_allowed, last_allowed = (
        today - timedelta(days=PAST_DAYS),
        today + timedelta(days=FORECAST_DAYS - 1),
    )
    if "start_date" in query or "end_date" in query:
        try:
            first, last = (
                date.fromisoformat(query["start_date"]),
                date.fromisoformat(query["end_date"]),
            )
        except (KeyError, ValueError):
            raise BadRequest(
                "Parameter 'start_date' and 'end_date' must be set together as yyyy-mm-dd"
            ) from None
        for name, day in (("start_date", first), ("end_date", last)):
            if not first_allowed <= day <= last_allowed:
                raise BadRequest(
                    f"Parameter '{name}' is out of allowed range"
                    f" from {first_allowed} to {last_allowed}"
                )
        if last < first:
            raise BadRequest("End-date must be larger or equals than start-date")
    else:
        days = int(query.get("forecast_days", "7"))
        if not 0 <= days <= FORECAST_DAYS:
            raise BadRequest(f"Forecast days is invalid. Allowed range 0 to {FORECAST_DAYS}.")
        first, last = today, today + timedelta(days=days - 1)

    grid_latitude, grid_longitude = round(latitude * 10) / 10, round(longitude * 40) / 40
    answer: dict[str, Any] = {
        "latitude": grid_latitude,
        "longitude": grid_longitude,
        "generationtime_ms": 0.0829696655273438,
        "utc_offset_seconds": int(offset.total_seconds()),
        "timezone": "GMT" if zone_name.upper() in ("GMT", "UTC") else zone_name,
        "timezone_abbreviation": "GMT"
        if zone_name.upper() in ("GMT", "UTC")
        else zone.tzname(datetime.combine(today, time(12))),
        "elevation": 23.0,
    }
    hours = [
        datetime.combine(first, time()) + timedelta(hours=n)
        for n in range(((last - first).days + 1) * 24)
    ]
    weather = [
        weather_at(grid_latitude, grid_longitude, (h - offset).replace(tzinfo=UTC)) for h in hours
    ]

    hourly = variables(query, "hourly", HOURLY)
    if hourly:
        answer["hourly_units"] = {"time": "iso8601"} | {v: unit_label(v, query) for v in hourly}
        answer["hourly"] = {"time": [h.strftime("%Y-%m-%dT%H:%M") for h in hours]} | {
            v: [in_units(v, w[v], query) for w in weather] for v in hourly
        }
    daily = variables(query, "daily", DAILY)
    if daily:
        by_day = [weather[n : n + 24] for n in range(0, len(weather), 24)]
        summary = {
            "weather_code": lambda ws: max((w["weather_code"] for w in ws), key=severity),
            "temperature_2m_max": lambda ws: max(w["temperature_2m"] for w in ws),
            "temperature_2m_min": lambda ws: min(w["temperature_2m"] for w in ws),
            "precipitation_probability_max": lambda ws: max(
                w["precipitation_probability"] for w in ws
            ),
            "precipitation_sum": lambda ws: round(sum(w["precipitation"] for w in ws), 1),
        }
        answer["daily_units"] = {"time": "iso8601"} | {v: unit_label(v, query) for v in daily}
        answer["daily"] = {
            "time": [(first + timedelta(days=n)).isoformat() for n in range(len(by_day))]
        } | {v: [in_units(v, summary[v](ws), query) for ws in by_day] for v in daily}
    return answer


def severity(code: int) -> tuple[int, int]:
    # A day's code is its most severe hour: wet beats dry, then the higher code.
    return (code in WET, code)


# The faults a test queued (POST /_test/fault; see tests/fakes/faults.py).
FAULTS = Faults()


def make_handler(today: date, delay: float = 0.0) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()
    calls: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the control API's only
            if not intercept(self, FAULTS):
                self.send_error(405)

        def do_GET(self) -> None:
            if intercept(self, FAULTS):
                return
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            if url.path == "/_test/calls":
                with lock:
                    self._send(200, {"count": len(calls), "calls": [dict(c) for c in calls]})
                return
            with lock:
                call = {"seq": len(calls) + 1, "path": url.path, "at": clock.time()}
                call["answered"] = False
                calls.append(call)
            clock.sleep(delay)
            try:
                if url.path == "/v1/search":
                    answered = self._send(200, search(query))
                elif url.path == "/v1/forecast":
                    answered = self._send(200, forecast(query, today))
                else:
                    answered = self._send(404, {"error": True, "reason": "Not Found"})
            except BadRequest as exc:
                answered = self._send(400, {"error": True, "reason": str(exc)})
            with lock:
                call["answered"] = answered

        def _send(self, status: int, payload: dict[str, Any]) -> bool:
            """Answer; False if the caller was gone (killed while it waited)."""
            data = json.dumps(payload, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                return False
            return True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class Server(ThreadingHTTPServer):
    request_queue_size = 256  # room for a burst of callers (bench/ asks for 100 chats at once)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--today", type=date.fromisoformat, default=datetime.now(UTC).date())
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to hold every answer")
    arguments = parser.parse_args()
    handler = make_handler(arguments.today, arguments.delay)
    server = Server(("127.0.0.1", arguments.port), handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
