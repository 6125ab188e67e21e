"""The example's morning briefing, run by the core's scheduler on a controlled clock."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

from bot.config import Rule
from bot.engine.workflow import batches
from bot.messages import Reply
from bot.schedule import Scheduler
from bot.wiring import build
from tests.conftest import HANG_SECONDS, LONDON, NOW, CountingCalendar, FakeWeather


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


async def test_the_morning_briefing_fires_once_at_0730_with_events_and_home_weather(
    tmp_path, example_config, week
):
    clock = Clock(datetime(2026, 11, 25, 7, 0, tzinfo=LONDON))  # a Wednesday
    weather = FakeWeather()
    assistant = build(
        example_config, clock=clock, data_dir=tmp_path, calendar=week, weather=weather
    )
    memory = assistant.memory
    sent: list[tuple[datetime, Reply]] = []

    async def send(reply: Reply) -> None:
        sent.append((clock.now, reply))

    async def fire(rule: Rule, slot: datetime) -> None:
        await send(await assistant.run_scheduled(rule, 99))

    ledger = assistant.stores.slots
    scheduler = Scheduler.for_settings(example_config.settings, ledger, fire, clock, clock.sleep)
    task = asyncio.create_task(scheduler.run_forever())
    while clock.now < datetime(2026, 11, 26, 12, 0, tzinfo=LONDON):
        await asyncio.sleep(0)
    task.cancel()

    assert [moment for moment, _ in sent] == [
        datetime(2026, 11, 25, 7, 30, tzinfo=LONDON),
        datetime(2026, 11, 26, 7, 30, tzinfo=LONDON),
    ]
    first = sent[0][1].text
    assert first.startswith("Today, Wednesday 25 November:\n• 09:30–09:45  Team stand-up")
    assert first.endswith(
        "Weather in London, Wednesday 25 November: overcast, 4–11°C, 20% chance of rain."
    )
    assert ("find_place", "London, United Kingdom") in weather.asked
    assert memory.recent(99)[0].text == first  # the briefing is part of the owner's chat


async def test_calendar_and_home_weather_are_fetched_at_once(tmp_path, example_config):
    # Each waits inside until the other is inside too: one after the other, neither could.
    both_inside = threading.Barrier(2, timeout=HANG_SECONDS)

    class MeetingCalendar(CountingCalendar):
        def events(self, start, end):
            both_inside.wait()
            return super().events(start, end)

    class MeetingWeather(FakeWeather):
        def daily(self, place, first, last):
            both_inside.wait()
            return super().daily(place, first, last)

    assistant = build(
        example_config,
        clock=lambda: NOW,
        data_dir=tmp_path,
        calendar=MeetingCalendar([]),
        weather=MeetingWeather(),
    )
    briefing = next(rule for rule in example_config.settings.rules if rule.schedule)

    reply = await assistant.run_scheduled(briefing, 99)

    assert "You have nothing on your calendar today" in reply.text
    assert "Weather in London" in reply.text


def test_only_steps_that_need_an_earlier_result_wait_for_it(example_config):
    weather_rule, briefing = (
        rule
        for rule in example_config.settings.rules
        if rule.name in ("weather", "morning-briefing")
    )
    shape = [
        [step.tool for step in batch] if isinstance(batch, list) else "answer"
        for batch in batches(weather_rule.steps)
    ]
    assert shape == [["search_calendar"], ["weather_forecast"], "answer"]  # needs $event
    shape = [
        [step.tool for step in batch] if isinstance(batch, list) else "answer"
        for batch in batches(briefing.steps)
    ]
    assert shape == [["search_calendar", "weather_forecast"], "answer"]
