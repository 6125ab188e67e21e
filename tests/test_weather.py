"""Open-Meteo: places by name and forecasts as a user would check them, replayed from cassettes.

Success cassettes were recorded by tests/record_weather_cassettes.py against a local fake of the
documented API; the error cassettes (400, 429, 503) are hand-written. Every cassette is replayed
with record_mode "none", so a request the cassette doesn't hold fails the test instead of reaching
the internet, and an interaction is played at most once unless a test says otherwise.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
import vcr

import integrations.weather as weather_module
from integrations.weather import (
    WMO_DESCRIPTIONS,
    DailyWeather,
    ForecastOutOfRange,
    HourlyWeather,
    OpenMeteo,
    Place,
    WeatherError,
    describe,
)
from tests.record_weather_cassettes import (
    LONDON,
    LONDON_ZONE,
    NOW,
    NOWHERE,
    PARKRUN,
    TENNIS_CENTRE,
    WEEKEND,
)

CASSETTES = Path(__file__).parent / "cassettes" / "weather"

PLAYBACK = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=("method", "scheme", "host", "port", "path", "query"),
    decode_compressed_response=True,
)


def open_meteo(**options: object) -> OpenMeteo:
    return OpenMeteo(clock=lambda: NOW, **options)  # type: ignore[arg-type]


def query_of(request: vcr.request.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(request.uri).query).items()}


def no_requests_allowed() -> vcr.cassette.Cassette:
    # A cassette that doesn't exist, replayed in "none" mode: any request at all fails the test.
    return PLAYBACK.use_cassette("no_requests_expected.yaml")


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """What urllib3's Retry would have slept, without the wait."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


# --- places -------------------------------------------------------------------------------------


def test_london_is_found_with_its_coordinates_and_zone() -> None:
    with PLAYBACK.use_cassette("geocode_london.yaml") as cassette:
        london = open_meteo().geocode("London")

    assert london == Place(
        "London", "United Kingdom", "England", 51.50853, -0.12574, "Europe/London"
    )
    assert london == LONDON  # what the forecast cassettes were recorded with
    assert cassette.requests[0].host == "geocoding-api.open-meteo.com"
    assert query_of(cassette.requests[0]) == {
        "name": "London",
        "count": "1",
        "language": "en",
        "format": "json",
    }


def test_an_unknown_place_is_none() -> None:
    # Open-Meteo leaves `results` out entirely when nothing matches.
    with PLAYBACK.use_cassette("geocode_miss.yaml") as cassette:
        assert open_meteo().geocode(NOWHERE) is None
    assert cassette.play_count == 1


@pytest.mark.parametrize("name", ["", "X", "  y  "])
def test_a_one_letter_name_is_none_without_asking(name: str) -> None:
    with no_requests_allowed() as cassette:
        assert open_meteo().geocode(name) is None
    assert cassette.play_count == 0


def test_an_event_location_finds_the_town_it_names() -> None:
    with PLAYBACK.use_cassette("find_place_tennis_centre.yaml") as cassette:
        found = open_meteo().find_place(TENNIS_CENTRE)

    assert found == (LONDON, "London")
    # The whole text first, then each part from the left.
    assert [query_of(request)["name"] for request in cassette.requests] == [
        "Regent's Park Tennis Centre, London",
        "Regent's Park Tennis Centre",
        "London",
    ]
    assert cassette.all_played


def test_a_location_naming_no_known_place_is_none() -> None:
    with PLAYBACK.use_cassette("geocode_miss.yaml"):
        assert open_meteo().find_place(f" {NOWHERE} , ,") is None  # blank parts aren't asked


# --- forecasts ----------------------------------------------------------------------------------


def test_the_weather_at_nine_on_saturday_in_london() -> None:
    with PLAYBACK.use_cassette("hourly_london.yaml") as cassette:
        hours = open_meteo().hourly(LONDON, *PARKRUN)

    assert hours == [
        HourlyWeather(
            time=datetime(2026, 11, 28, 9, 0, tzinfo=LONDON_ZONE),
            temperature=4.3,
            apparent_temperature=1.4,
            precipitation_probability=67,
            precipitation=1.9,
            weather_code=61,
            description="light rain",
            wind_speed=17.9,
        ),
        HourlyWeather(
            time=datetime(2026, 11, 28, 10, 0, tzinfo=LONDON_ZONE),
            temperature=5.1,
            apparent_temperature=2.1,
            precipitation_probability=74,
            precipitation=0.3,
            weather_code=61,
            description="light rain",
            wind_speed=18.0,
        ),
    ]
    assert hours[0].time.tzinfo == LONDON_ZONE
    sent = query_of(cassette.requests[0])
    assert cassette.requests[0].host == "api.open-meteo.com"
    # Only the day needed is fetched, in GMT (see OpenMeteo.hourly), and metric by default.
    assert (sent["start_date"], sent["end_date"], sent["timezone"]) == (
        "2026-11-28",
        "2026-11-28",
        "GMT",
    )
    assert sent["hourly"].split(",") == [
        "temperature_2m",
        "apparent_temperature",
        "precipitation_probability",
        "precipitation",
        "weather_code",
        "wind_speed_10m",
    ]
    assert "temperature_unit" not in sent


def test_a_moment_gets_the_hour_that_holds_it() -> None:
    half_past = datetime(2026, 11, 28, 9, 30, tzinfo=LONDON_ZONE)
    with PLAYBACK.use_cassette("hourly_london.yaml"):
        hours = open_meteo().hourly(LONDON, half_past, half_past)
    assert [(hour.time.hour, hour.description) for hour in hours] == [(9, "light rain")]


def test_hours_come_back_in_the_zone_of_the_place_whatever_zone_is_asked() -> None:
    start = PARKRUN[0].astimezone(ZoneInfo("America/New_York"))  # 04:00 there
    with PLAYBACK.use_cassette("hourly_london.yaml"):
        hours = open_meteo().hourly(LONDON, start, start + timedelta(minutes=1))
    assert [hour.time for hour in hours] == [datetime(2026, 11, 28, 9, 0, tzinfo=LONDON_ZONE)]


def test_the_weekend_day_by_day() -> None:
    with PLAYBACK.use_cassette("daily_london.yaml") as cassette:
        days = open_meteo().daily(LONDON, *WEEKEND)

    assert [(d.day, d.temperature_max, d.temperature_min, d.description) for d in days] == [
        (date(2026, 11, 28), 7.3, 1.3, "moderate rain"),
        (date(2026, 11, 29), 10.2, 4.2, "overcast"),
        (date(2026, 11, 30), 10.4, 4.4, "moderate rain"),
    ]
    assert days[1] == DailyWeather(date(2026, 11, 29), 10.2, 4.2, 19, 0.0, 3, "overcast")
    sent = query_of(cassette.requests[0])
    assert (sent["start_date"], sent["end_date"], sent["timezone"]) == (
        "2026-11-28",
        "2026-11-30",
        "Europe/London",
    )


def test_imperial_units_are_asked_for_and_given() -> None:
    weather = open_meteo(units="imperial")
    with PLAYBACK.use_cassette("imperial_dorking.yaml") as cassette:
        dorking = weather.geocode("Dorking")
        assert dorking is not None
        [saturday] = weather.daily(dorking, WEEKEND[0], WEEKEND[0])
        nine = weather.hourly(dorking, *PARKRUN)[0]

    assert (dorking.name, dorking.admin1, dorking.timezone) == (
        "Dorking",
        "England",
        "Europe/London",
    )
    for request in cassette.requests[1:]:
        sent = query_of(request)
        assert sent["temperature_unit"] == "fahrenheit"
        assert sent["wind_speed_unit"] == "mph"
        assert sent["precipitation_unit"] == "inch"
    assert (saturday.temperature_max, saturday.temperature_min) == (45.1, 34.3)
    assert (nine.temperature, nine.wind_speed, nine.precipitation) == (39.7, 10.6, 0.075)
    units = (weather.temperature_unit, weather.wind_unit, weather.precipitation_unit)
    assert units == ("°F", "mph", "inch")
    metric = open_meteo()
    assert (metric.temperature_unit, metric.wind_unit, metric.precipitation_unit) == (
        "°C",
        "km/h",
        "mm",
    )


def test_units_other_than_metric_or_imperial_are_refused() -> None:
    with pytest.raises(ValueError, match="units"):
        OpenMeteo(units="kelvin")  # type: ignore[arg-type]


# --- dates out of range: refused before any request ---------------------------------------------


def test_seventeen_days_ahead_is_too_far_and_asks_nothing() -> None:
    far = NOW + timedelta(days=17)
    with no_requests_allowed() as cassette:
        with pytest.raises(ForecastOutOfRange) as hourly:
            open_meteo().hourly(LONDON, far, far + timedelta(hours=1))
        with pytest.raises(ForecastOutOfRange) as daily:
            open_meteo().daily(LONDON, far.date(), far.date())
    assert str(hourly.value) == "That's more than 16 days ahead: too far for a forecast."
    assert str(daily.value) == str(hourly.value)
    assert cassette.play_count == 0


def test_a_past_day_has_passed_and_asks_nothing() -> None:
    yesterday = NOW - timedelta(days=1)
    with no_requests_allowed():
        with pytest.raises(ForecastOutOfRange, match=r"^That day has already passed\.$"):
            open_meteo().daily(LONDON, yesterday.date(), yesterday.date())
        with pytest.raises(ForecastOutOfRange, match=r"^That day has already passed\.$"):
            open_meteo().hourly(LONDON, yesterday, yesterday + timedelta(hours=2))
    assert issubclass(ForecastOutOfRange, WeatherError)


def test_naive_times_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        open_meteo().hourly(LONDON, datetime(2026, 11, 28, 9), datetime(2026, 11, 28, 10))


# --- when Open-Meteo can't answer ---------------------------------------------------------------


def test_a_refused_request_says_why() -> None:
    beyond_the_pole = Place("Beyond the pole", "", "", 91.0, 0.0, "UTC")
    with PLAYBACK.use_cassette("forecast_400.yaml"), pytest.raises(WeatherError) as refused:
        open_meteo().hourly(beyond_the_pole, *PARKRUN)
    assert "Latitude must be in range of -90 to 90°. Given: 91.0." in str(refused.value)


def test_a_service_that_is_down_is_asked_three_times_then_reported(sleeps: list[float]) -> None:
    with (
        PLAYBACK.use_cassette("forecast_503.yaml") as cassette,
        pytest.raises(WeatherError) as down,
    ):
        open_meteo().hourly(LONDON, *PARKRUN)
    assert str(down.value) == "Weather unavailable right now: the weather service isn't answering."
    assert cassette.play_count == 3  # the request and urllib3's two retries
    # The first retry at once, the second after a back-off of 1 s plus up to 0.5 s of jitter.
    assert len(sleeps) == 1
    assert 1.0 <= sleeps[0] <= 1.5


def test_a_long_retry_after_is_not_waited_for(sleeps: list[float]) -> None:
    with (
        PLAYBACK.use_cassette("forecast_429.yaml") as cassette,
        pytest.raises(WeatherError) as busy,
    ):
        open_meteo().daily(LONDON, *WEEKEND)
    assert str(busy.value) == (
        "Weather unavailable right now: the weather service is busy. Try again in a minute."
    )
    assert cassette.play_count == 1
    assert sleeps == []


def test_a_timeout_is_reported_kindly() -> None:
    class Unreachable(requests.Session):
        def get(self, url: str | bytes, **kwargs: object) -> requests.Response:  # type: ignore[override]
            raise requests.ConnectTimeout("timed out")

    with pytest.raises(WeatherError, match=r"^Weather unavailable right now: .* isn't answering"):
        open_meteo(session=Unreachable()).geocode("London")


# --- the cache ----------------------------------------------------------------------------------


def test_the_same_question_twice_asks_once() -> None:
    weather = open_meteo()
    with PLAYBACK.use_cassette("geocode_london.yaml") as cassette:
        first, second = weather.geocode("London"), weather.geocode("London")
    assert first == second == LONDON
    assert cassette.play_count == 1

    with PLAYBACK.use_cassette("hourly_london.yaml", allow_playback_repeats=True) as cassette:
        weather.hourly(LONDON, *PARKRUN)
        # Another event the same day is served from the same day's answer.
        later = weather.hourly(
            LONDON, PARKRUN[0] + timedelta(hours=5), PARKRUN[1] + timedelta(hours=5)
        )
    assert cassette.play_count == 1
    assert [hour.time.hour for hour in later] == [14, 15]


def test_an_answer_is_asked_again_once_the_cache_has_expired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(weather_module, "monotonic", lambda: clock[0])
    weather = open_meteo(cache_minutes=30)
    with PLAYBACK.use_cassette("geocode_london.yaml", allow_playback_repeats=True) as cassette:
        weather.geocode("London")
        clock[0] += 29 * 60
        weather.geocode("London")
        assert cassette.play_count == 1
        clock[0] += 2 * 60
        weather.geocode("London")
        assert cassette.play_count == 2


def test_no_cache_when_cache_minutes_is_zero() -> None:
    weather = open_meteo(cache_minutes=0)
    with PLAYBACK.use_cassette("geocode_miss.yaml", allow_playback_repeats=True) as cassette:
        weather.geocode(NOWHERE)
        weather.geocode(NOWHERE)
    assert cassette.play_count == 2


# --- WMO codes ----------------------------------------------------------------------------------


def test_every_wmo_code_reads_as_words() -> None:
    documented = {0, 1, 2, 3, 45, 48, 51, 53, 55, 56, 57, 61, 63, 65, 66, 67, 71, 73, 75, 77}
    documented |= {80, 81, 82, 85, 86, 95, 96, 99}
    assert set(WMO_DESCRIPTIONS) == documented
    for code in documented:
        words = describe(code).split()
        assert words and all(word.isalpha() and word.islower() for word in words), code
    assert describe(61) == "light rain"
    assert describe(3) == "overcast"
    assert describe(96) == "thunderstorm with hail"
    assert describe(42) == "unknown weather (code 42)"
