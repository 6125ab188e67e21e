"""Record the Open-Meteo cassettes that tests/test_weather.py replays.

Starts tests/fakes/open_meteo_server.py in a subprocess (not a thread: a thread's real HTTP while
vcrpy is active can un-patch the HTTP clients process-wide for a moment), points OpenMeteo at it,
records with vcrpy, and rewrites the fake's address to Open-Meteo's two hosts, so the cassettes
read like the real API. OpenMeteo parsing the fake's answers while recording is the check that
the JSON has the documented shape.

Run from the project root:

    .venv/bin/python -m tests.record_weather_cassettes

The error cassettes (forecast_400, forecast_429, forecast_503) are hand-written and left alone.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import vcr
from vcr.request import Request

from integrations.weather import FORECAST_URL, GEOCODING_URL, OpenMeteo, Place
from tests.fakes import report, running, start_afresh, without_varying_headers

HERE = Path(__file__).resolve().parent
CASSETTES = HERE / "cassettes" / "weather"

# The tests replay these exact queries: keep them in step with tests/test_weather.py.
LONDON_ZONE = ZoneInfo("Europe/London")
# Wednesday 25 November 2026, 10:00 in London: the same moment as tests/conftest.py's NOW.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=LONDON_ZONE)
LONDON = Place("London", "United Kingdom", "England", 51.50853, -0.12574, "Europe/London")
PARKRUN = (
    datetime(2026, 11, 28, 9, 0, tzinfo=LONDON_ZONE),
    datetime(2026, 11, 28, 11, 0, tzinfo=LONDON_ZONE),
)
WEEKEND = (date(2026, 11, 28), date(2026, 11, 30))
TENNIS_CENTRE = "Regent's Park Tennis Centre, London"
NOWHERE = "Narnia"


def weather_vcr(fake_base: str, record_mode: str = "all") -> vcr.VCR:
    """A VCR that stores the fake's traffic as if it had gone to Open-Meteo."""

    def to_open_meteo(request: Request) -> Request:
        # Idempotent: vcrpy also runs this on every request it matches and on loaded cassettes.
        if request.uri.startswith(f"{fake_base}/v1/search"):
            request.uri = GEOCODING_URL + request.uri.removeprefix(f"{fake_base}/v1/search")
        elif request.uri.startswith(f"{fake_base}/v1/forecast"):
            request.uri = FORECAST_URL + request.uri.removeprefix(f"{fake_base}/v1/forecast")
        return request

    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode=record_mode,
        match_on=("method", "scheme", "host", "port", "path", "query"),
        before_record_request=to_open_meteo,
        before_record_response=without_varying_headers,
        decode_compressed_response=True,
    )


def client(base: str, **options: Any) -> OpenMeteo:
    return OpenMeteo(f"{base}/v1/forecast", f"{base}/v1/search", clock=lambda: NOW, **options)


def record_all(recorder: vcr.VCR, base: str) -> None:
    weather = client(base)
    with recorder.use_cassette("geocode_london.yaml") as cassette:
        found = weather.geocode("London")
    report("geocode_london.yaml", cassette, [str(found)])

    with recorder.use_cassette("geocode_miss.yaml") as cassette:
        found = weather.geocode(NOWHERE)
    report("geocode_miss.yaml", cassette, [str(found)])

    with recorder.use_cassette("find_place_tennis_centre.yaml") as cassette:
        match = client(base).find_place(TENNIS_CENTRE)  # a fresh cache: every request is made
    report("find_place_tennis_centre.yaml", cassette, [str(match)])

    with recorder.use_cassette("hourly_london.yaml") as cassette:
        hours = weather.hourly(LONDON, *PARKRUN)
    report("hourly_london.yaml", cassette, [str(hour) for hour in hours])

    with recorder.use_cassette("daily_london.yaml") as cassette:
        days = weather.daily(LONDON, *WEEKEND)
    report("daily_london.yaml", cassette, [str(day) for day in days])

    imperial = client(base, units="imperial")
    with recorder.use_cassette("imperial_dorking.yaml") as cassette:
        dorking = imperial.geocode("Dorking")
        assert dorking is not None, "the fake should know Dorking"
        days = imperial.daily(dorking, WEEKEND[0], WEEKEND[0])
        hours = imperial.hourly(dorking, *PARKRUN)
    report("imperial_dorking.yaml", cassette, [str(dorking), *map(str, days), str(hours[0])])


RECORDED = [
    "geocode_london.yaml",
    "geocode_miss.yaml",
    "find_place_tennis_centre.yaml",
    "hourly_london.yaml",
    "daily_london.yaml",
    "imperial_dorking.yaml",
]


def main() -> None:
    start_afresh(CASSETTES, RECORDED)
    with running("tests.fakes.open_meteo_server", "--today", NOW.date().isoformat()) as base:
        record_all(weather_vcr(base), base)


if __name__ == "__main__":
    main()
