"""Days people ask about by name: the days of a holiday, how many days until, a day off, the
journey home, the time somewhere else. Asked through the core on a fixture calendar and a
fixed clock (Alex's month, Wednesday 25 November 2026 at 10:00 in London)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core import Assistant
from bot.tools.workdays import first_day_off
from integrations.calendar import Event
from tests.phrasings import DATA, ask, assistant_for, load_table


@pytest.fixture(scope="module")
def alex(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    table = load_table(DATA / "phrasings-alex.yaml")[0]
    return assistant_for(table, tmp_path_factory.mktemp("days"))


def asked(assistant: Assistant, question: str) -> str:
    return ask(assistant, question, abs(hash(question)) % 1_000_000)


@pytest.mark.parametrize(
    "question",
    ["what's on over Christmas?", "what am I doing for xmas?", "anything on at Christmas?"],
)
def test_over_christmas_is_the_christmas_days(alex: Assistant, question: str) -> None:
    reply = asked(alex, question)
    assert "Thursday 24 December to Saturday 26 December" in reply
    assert "Christmas Eve at Mum's" in reply and "Christmas lunch with the family" in reply


def test_christmas_day_is_the_day_itself(alex: Assistant) -> None:
    reply = asked(alex, "anything on christmas day?")
    assert "Christmas lunch with the family" in reply and "Christmas Eve at Mum's" not in reply


def test_over_easter_and_over_the_new_year_are_their_days(alex: Assistant) -> None:
    assert "Friday 26 March 2027 to Monday 29 March 2027" in asked(alex, "what's on over easter?")
    new_year = asked(alex, "plans over the new year?")
    assert "New Year's Eve party" in new_year and "Friday 1 January 2027" in new_year


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("how many days until next month?", "Tuesday 1 December is in 6 days"),
        ("how many days until next week?", "Monday 30 November is in 5 days"),
        ("how many days till christmas?", "Friday 25 December is in 30 days"),
        ("how many days until friday?", "Friday 27 November is in 2 days"),
    ],
)
def test_how_many_days_until_counts_to_the_day_named(
    alex: Assistant, question: str, answer: str
) -> None:
    assert answer in asked(alex, question)


def _person(name: str, data_dir: Path) -> Assistant:
    return assistant_for(load_table(DATA / f"phrasings-{name}.yaml")[0], data_dir)


@pytest.mark.parametrize(
    ("person", "question", "journey", "not_said"),
    [
        # A stay a flight away sets off in (a week off in Florida): back is the flight home.
        ("jess", "when do I get back from Florida?", "Flight AA 2210", "PTO"),
        ("jess", "when am I back from florida?", "Flight AA 2210", "PTO"),
        # "Home for Christmas" is no answer to getting home from somewhere it is not.
        ("niamh", "when do I get home from lisbon?", "Flight FR 8543", "Home for Christmas"),
        ("niamh", "when do I get back from Lisbon?", "Flight FR 8543", "Home for Christmas"),
    ],
)
def test_getting_back_from_a_place_is_the_journey_home(
    tmp_path: Path, person: str, question: str, journey: str, not_said: str
) -> None:
    reply = ask(_person(person, tmp_path), question, 1)
    assert journey in reply and not_said not in reply


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("what time is it in Tokyo?", "It's 19:00 in Tokyo on Wednesday 25 November"),
        ("what's the time in new york?", "It's 05:00 in New York on Wednesday 25 November"),
        ("what time is it in japan", "It's 19:00 in Japan"),
        ("what day is it in sydney?", "It's 21:00 in Sydney on Wednesday 25 November"),
        ("what time is it?", "It's 10:00 on Wednesday 25 November"),
    ],
)
def test_the_time_somewhere_is_read_from_the_time_zone_database(
    alex: Assistant, question: str, answer: str
) -> None:
    assert answer in asked(alex, question)


def test_a_place_without_a_known_time_zone_is_not_given_the_users_time(alex: Assistant) -> None:
    reply = asked(alex, "what time is it in Orlando?")
    assert "don't know the time zone of Orlando" in reply and "10:00" not in reply


def test_the_time_of_an_event_is_still_a_calendar_question(alex: Assistant) -> None:
    reply = asked(alex, "what's the time of the board meeting?")
    assert "Board meeting" in reply and "14:00" in reply


@pytest.mark.parametrize(
    ("question", "day", "not_said"),
    [
        # Night shifts on Thursday and Friday: a shift counts for the day it starts.
        ("when's my next day off?", "Saturday, November 21", "Night shift"),
        ("next day off?", "Saturday, November 21", "Night shift"),
        # Day shifts on Monday and Tuesday.
        ("do I have a day off next week?", "Wednesday, November 25", "Day shift"),
    ],
)
def test_the_next_day_off_is_the_first_without_work(
    tmp_path: Path, question: str, day: str, not_said: str
) -> None:
    reply = ask(_person("jess", tmp_path), question, 1)
    assert f"next day off: {day}" in reply and not_said not in reply


def test_a_calendar_without_work_says_it_cannot_tell_days_off(alex: Assistant) -> None:
    reply = asked(alex, "when's my next day off?")
    assert "can't tell your days off" in reply


def test_time_off_makes_a_day_off_whatever_else_it_holds() -> None:
    zone = ZoneInfo("America/Chicago")

    def on(day: int, title: str, hours: int = 12, all_day: bool = False) -> Event:
        start = datetime(2026, 12, day, 0 if all_day else 7, tzinfo=zone)
        return Event(title=title, start=start, end=start + timedelta(hours=hours), all_day=all_day)

    shifts = [on(day, "Day shift – 4 West") for day in (21, 22, 23)]
    assert first_day_off(shifts, date(2026, 12, 21), date(2026, 12, 31)) == date(2026, 12, 24)
    leave = on(22, "PTO", hours=24, all_day=True)
    assert first_day_off([*shifts, leave], date(2026, 12, 21), date(2026, 12, 31)) == date(
        2026, 12, 22
    )
    # "Working from home" all day is work on each day it covers.
    home = on(24, "Working from home", hours=48, all_day=True)
    assert first_day_off([*shifts, home], date(2026, 12, 21), date(2026, 12, 31)) == date(
        2026, 12, 26
    )
