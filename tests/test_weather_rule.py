"""The weather rule of the example config: follow-ups, events named in the question, home, and
the honest limit when the rule is taken away."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import LimitSettings, UserSettings
from bot.core import Assistant
from bot.messages import Incoming
from bot.wiring import build
from integrations.calendar import Event
from integrations.weather import HourlyWeather, OpenMeteo, Place
from tests.conftest import (
    LONDON,
    NOW,
    CountingCalendar,
    FakeWeather,
    at,
    event,
    example_without,
)
from tests.fakes import running

CHICAGO = ZoneInfo("America/Chicago")


async def ask(assistant, text: str, chat_id: int = 7) -> str:
    return (await assistant.handle(Incoming(chat_id, 42, text))).text


async def test_the_follow_up_is_about_the_event_just_mentioned(make_assistant, week, weather):
    assistant = make_assistant(week, weather=weather)
    assert "Parkrun" in await ask(assistant, "What's on Saturday?")

    reply = await ask(assistant, "What will the weather be?")

    assert ("find_place", "Hampstead Heath, London") in weather.asked
    assert ("hourly", datetime(2026, 11, 28, 9, 0, tzinfo=LONDON)) in weather.asked
    assert reply == (
        "(For Hampstead Heath, London, I used London.)\n"
        "Weather in London, Saturday 28 November at 09:00: light rain, 9°C (feels like 6°C), "
        "70% chance of rain, wind 14 km/h."
    )


async def test_the_follow_up_is_remembered_per_chat_and_across_restarts(
    make_assistant, week, weather
):
    await ask(make_assistant(week, weather=weather), "What's on Saturday?", chat_id=1)
    restarted = make_assistant(week, weather=weather)
    await ask(restarted, "what will the weather be?", chat_id=1)
    await ask(restarted, "what will the weather be?", chat_id=2)  # a chat with no event yet

    asked_places = [what for kind, what in weather.asked if kind == "find_place"]
    assert asked_places == ["Hampstead Heath, London", "London, United Kingdom"]


async def test_an_event_named_in_the_question_is_found_first(make_assistant, week, weather):
    reply = await ask(make_assistant(week, weather=weather), "Will it rain at my tennis match?")

    assert reply.startswith("Your next “tennis match”:\nThursday 26 November:\n")
    assert ("hourly", datetime(2026, 11, 26, 18, 30, tzinfo=LONDON)) in weather.asked
    assert "Weather in London, Thursday 26 November at 18:30: light rain" in reply


async def test_the_weather_tomorrow_is_at_home_for_the_whole_day(make_assistant, week, weather):
    reply = await ask(make_assistant(week, weather=weather), "What's the weather tomorrow?")

    assert ("find_place", "London, United Kingdom") in weather.asked
    assert ("daily", (NOW.date().replace(day=26), NOW.date().replace(day=26))) in weather.asked
    assert reply == "Weather in London, Thursday 26 November: overcast, 4–11°C, 20% chance of rain."
    assert week.calls == 0  # no event was named: the calendar is not searched


async def test_a_place_that_cannot_be_found_falls_back_to_home_and_says_so(
    make_assistant, week, weather
):
    assistant = make_assistant(week, weather=weather)
    await ask(assistant, "when is my dentist appointment?")
    reply = await ask(assistant, "and the weather?")

    assert reply.startswith(
        "I couldn't find “Smile Dental”, so this is the weather at home (London, United Kingdom)."
    )


async def test_too_far_ahead_for_a_forecast_is_said_plainly(make_assistant, week, weather):
    reply = await ask(make_assistant(week, weather=weather), "What's the weather on 20 December?")
    assert reply == "That's more than 16 days ahead: too far for a forecast."


async def test_without_the_weather_rule_the_follow_up_is_out_of_scope(
    make_assistant, week, weather
):
    assistant = make_assistant(week, example_without("weather"), weather=weather)
    assert "Parkrun" in await ask(assistant, "What's on Saturday?")

    reply = await ask(assistant, "What will the weather be?")

    assert reply.startswith("That's outside what my rules cover. They cover:\n")
    assert "• Questions about your own events" in reply
    assert "weather" not in reply.split("They cover:")[1].lower()
    assert weather.asked == []


async def test_a_place_named_in_the_question_is_used_when_no_event_matches(
    make_assistant, week, weather
):
    reply = await ask(
        make_assistant(week, weather=weather), "What's the weather in Dorking tomorrow?"
    )

    assert ("find_place", "Dorking") in weather.asked
    # No event is called Dorking, but Dorking is a place: the empty search is no news.
    assert (
        reply == "Weather in Dorking, Thursday 26 November: overcast, 4–11°C, 20% chance of rain."
    )


async def test_the_follow_up_skips_a_placeless_all_day_entry_of_that_day(
    make_assistant, week, weather
):
    birthday = Event("Sam's birthday", at(28, 0), at(29, 0), all_day=True)
    calendar = CountingCalendar([*week.events(at(1, 0), at(31, 0, month=12)), birthday])
    assistant = make_assistant(calendar, weather=weather)
    listing = await ask(assistant, "What's on Saturday?")
    assert listing.index("Sam's birthday") < listing.index("Parkrun")

    reply = await ask(assistant, "What will the weather be?")

    assert reply.startswith("(For Hampstead Heath, London, I used London.)\n")
    assert "Saturday 28 November at 09:00" in reply


# --- the weather across midnight and across zones, through the real Open-Meteo client -----------


@pytest.fixture
def open_meteo_url() -> Iterator[str]:
    """The local fake Open-Meteo, whose "today" is Saturday 28 November 2026."""
    with running("tests.fakes.open_meteo_server", "--today", "2026-11-28") as base:
        yield base


def assistant_at(
    now: datetime, open_meteo_url: str, tmp_path: Path, user: UserSettings
) -> Assistant:
    """The example config for `user`, its clock stopped at `now`, asking the fake Open-Meteo."""
    config = example_without(user=user, limits=LimitSettings(messages_per_minute=1000))
    weather = OpenMeteo(
        f"{open_meteo_url}/v1/forecast", f"{open_meteo_url}/v1/search", clock=lambda: now
    )
    return build(
        config, clock=lambda: now, data_dir=tmp_path, calendar=CountingCalendar([]), weather=weather
    )


LONDONER = UserSettings(home="London, United Kingdom", timezone="Europe/London")


@pytest.mark.parametrize(
    ("now", "said"),
    [
        # Sunday 00:36 in London is still Saturday 18:36 in Evanston: the day and the clock are
        # both the user's, and the place's own time is said beside them.
        (
            datetime(2026, 11, 29, 0, 36, tzinfo=LONDON),
            "Weather in Evanston, Sunday 29 November at 00:36 (Saturday 18:36 in Evanston): ",
        ),
        (
            datetime(2026, 11, 28, 23, 59, tzinfo=LONDON),
            "Weather in Evanston, Saturday 28 November at 23:59 (17:59 in Evanston): ",
        ),
    ],
)
async def test_the_weather_elsewhere_is_told_in_the_users_time(now, said, open_meteo_url, tmp_path):
    assistant = assistant_at(now, open_meteo_url, tmp_path, LONDONER)

    reply = await ask(assistant, "what's the weather in Evanston now?")

    assert reply.startswith(said), reply
    assert "nothing matching" not in reply


async def test_the_weather_at_home_across_midnight_names_the_new_day(open_meteo_url, tmp_path):
    now = datetime(2026, 11, 29, 0, 36, tzinfo=LONDON)
    assistant = assistant_at(now, open_meteo_url, tmp_path, LONDONER)

    reply = await ask(assistant, "what's the weather now?")

    assert reply.startswith("Weather in London, Sunday 29 November at 00:36: "), reply


async def test_today_elsewhere_is_the_places_own_day_even_when_mine_is_over_there(
    open_meteo_url, tmp_path
):
    # Saturday 23:50 in Chicago is already Sunday 06:50 in Paris: Saturday is over in Paris.
    now = datetime(2026, 11, 28, 23, 50, tzinfo=CHICAGO)
    chicagoan = UserSettings(home="Evanston", timezone="America/Chicago")
    assistant = assistant_at(now, open_meteo_url, tmp_path, chicagoan)

    reply = await ask(assistant, "what's the weather in Paris today?")

    assert reply.startswith("Weather in Paris, Sunday, November 29: "), reply


# --- follow-ups: places that are no places, and questions that name a place or a time ----------


@pytest.mark.parametrize(
    "location",
    ["Online", "Microsoft Teams Meeting", "Zoom: https://us02web.zoom.us/j/8512?pwd=x", "TBD",
     "https://meet.google.com/abc-defg-hij", "+44 20 7946 0958", "Home"],
)  # fmt: skip
async def test_the_weather_for_an_online_meeting_is_the_weather_at_home(
    make_assistant, weather, location
):
    calendar = CountingCalendar([event("Team stand-up", NOW.replace(hour=9, minute=30), 15,
                                       location=location)])  # fmt: skip
    assistant = make_assistant(calendar, weather=weather)
    assert "Team stand-up" in await ask(assistant, "What's on today?")

    reply = await ask(assistant, "What will the weather be?")

    assert [what for kind, what in weather.asked if kind == "find_place"] == [
        "London, United Kingdom"
    ]
    assert reply == (
        f"(For “{location}”, I used your home, London, United Kingdom.)\n"
        "Weather in London, Wednesday 25 November at 09:30: light rain, 9°C (feels like 6°C), "
        "70% chance of rain, wind 14 km/h."
    )


async def test_after_a_days_list_the_weather_is_for_the_first_event_held_somewhere(
    make_assistant, weather
):
    thursday = NOW.replace(day=26)
    calendar = CountingCalendar(
        [
            Event("Sam's birthday", thursday.replace(hour=0), NOW.replace(day=27, hour=0),
                  all_day=True),
            event("Team stand-up", thursday.replace(hour=9, minute=30), 15, location="Online"),
            event("Tennis match", thursday.replace(hour=18, minute=30), 90,
                  location="Regent's Park, London"),
        ]
    )  # fmt: skip
    assistant = make_assistant(calendar, weather=weather)
    await ask(assistant, "What's on tomorrow?")

    reply = await ask(assistant, "What will the weather be?")

    assert ("find_place", "Regent's Park, London") in weather.asked
    assert "Weather in London, Thursday 26 November at 18:30: light rain" in reply


async def test_the_weather_now_and_in_a_place_is_no_calendar_search(make_assistant, week, weather):
    assistant = make_assistant(week, weather=weather)
    assert "Parkrun" in await ask(assistant, "What's on Saturday?")

    now = await ask(assistant, "what's the weather now?")
    dorking = await ask(assistant, "what's the weather in Dorking?")

    assert now.startswith("Weather in London, Wednesday 25 November at 10:00: light rain")
    assert dorking.startswith("Weather in Dorking, Wednesday 25 November")
    assert "nothing matching" not in now + dorking
    # "now" is a time: no search for it. "Dorking" might have been an event: it was looked for.
    assert week.calls == 2


async def test_an_event_that_is_neither_found_nor_a_place_is_said_once(
    make_assistant, week, weather
):
    reply = await ask(make_assistant(week, weather=weather), "will it rain at my pottery class?")

    assert reply.startswith(
        "I couldn't find “pottery class”, so this is the weather at home (London, United Kingdom)."
    )
    assert "nothing matching" not in reply


# --- snow ---------------------------------------------------------------------------------------


class SnowyWeather(FakeWeather):
    def hourly(self, place: Place, start: datetime, end: datetime) -> list[HourlyWeather]:
        self.asked.append(("hourly", start))
        return [HourlyWeather(start, -3.0, -8.0, 90, 1.2, 73, "moderate snow", 20.0)]


async def test_snow_is_called_snow(make_assistant, week):
    reply = await ask(
        make_assistant(week, weather=SnowyWeather()), "will it snow at my tennis match?"
    )

    assert "moderate snow, -3°C (feels like -8°C), 90% chance of snow, wind 20 km/h." in reply
    assert "rain" not in reply
