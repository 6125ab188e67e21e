"""The weather rule of the example config: follow-ups, events named in the question, home, and
the honest limit when the rule is taken away."""

from __future__ import annotations

from datetime import datetime

from bot.messages import Incoming
from integrations.calendar import Event
from tests.conftest import LONDON, NOW, CountingCalendar, at, example_without


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
    assert reply == (
        "I found nothing matching “Dorking” tomorrow, Thursday 26 November.\n\n"
        "Weather in Dorking, Thursday 26 November: overcast, 4–11°C, 20% chance of rain."
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
