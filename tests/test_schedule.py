"""Scheduled rules fire at local wall time across DST, once per slot, across restarts.

Time is a fake clock: the scheduler's sleep advances it instantly, so days pass in milliseconds.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import Rule
from bot.schedule import Scheduler, slots
from bot.store.db import open_database
from bot.store.slots import SlotLedger

LONDON = ZoneInfo("Europe/London")
HOUR = timedelta(hours=1)


def rule(at: time, days: list[str], name: str = "briefing") -> Rule:
    return Rule.model_validate(
        {
            "name": name,
            "description": "morning briefing",
            "schedule": {"at": at, "days": days, "ask": "today's events and the weather"},
            "steps": [{"answer": "template"}],
        }
    )


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


class Stopped(Exception):
    """The test's end time was reached."""


class FakeClock:
    """Time that passes only when the scheduler sleeps; the run stops at `end`.

    `suspend` = (when, how long): the first sleep at or after `when` lasts that much longer, as a
    laptop's lid closed mid-sleep would.
    """

    def __init__(
        self, start: datetime, end: datetime, suspend: tuple[datetime, timedelta] | None = None
    ) -> None:
        self.now, self.end, self.suspend = start, end, suspend

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert 0 < seconds <= 60, "the scheduler re-reads the clock at least every minute"
        if self.now >= self.end:
            raise Stopped
        extra = timedelta()
        if self.suspend and self.now >= self.suspend[0]:
            extra, self.suspend = self.suspend[1], None
        self.now = min(self.now + timedelta(seconds=seconds) + extra, self.end)
        await asyncio.sleep(0)  # let another scheduler in the same test take a turn


async def run(
    rules: list[Rule],
    ledger: SlotLedger,
    start: datetime,
    end: datetime,
    grace: timedelta = HOUR,
    fired: list[tuple[str, datetime]] | None = None,
    fail_first: bool = False,
    suspend: tuple[datetime, timedelta] | None = None,
) -> list[tuple[str, datetime]]:
    """Run a scheduler from `start` to `end`; the (rule, slot) pairs it fired, in order."""
    fired = [] if fired is None else fired
    clock = FakeClock(start, end, suspend)

    async def fire(rule: Rule, slot: datetime) -> None:
        fired.append((rule.name, slot))
        if fail_first and len(fired) == 1:
            raise RuntimeError("text-to-speech is down")

    scheduler = Scheduler(rules, LONDON, grace, ledger, fire, clock=clock, sleep=clock.sleep)
    with pytest.raises(Stopped):
        await scheduler.run_forever()
    return fired


async def ignore(rule: Rule, slot: datetime) -> None:
    pass


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "schedule.sqlite3"


@pytest.fixture
def ledger(ledger_path: Path) -> SlotLedger:
    return SlotLedger(open_database(ledger_path))


async def test_weekday_rule_keeps_local_time_across_the_autumn_change(ledger):
    weekdays = rule(time(7, 30), ["weekdays"])
    fired = await run([weekdays], ledger, utc(2026, 10, 23), utc(2026, 10, 27))
    # Friday in BST, then the weekend off, then Monday in GMT: 07:30 local both times.
    assert fired == [("briefing", utc(2026, 10, 23, 6, 30)), ("briefing", utc(2026, 10, 26, 7, 30))]
    scheduler = Scheduler([weekdays], LONDON, HOUR, ledger, fire=ignore)
    assert scheduler.next_slot(utc(2026, 10, 23, 12)) == (weekdays, utc(2026, 10, 26, 7, 30))


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Spring forward (29 March): no 01:30 that night, so it fires as the clocks jump, 02:00.
        (utc(2026, 3, 28, 12), [utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)]),
        # Autumn back (25 October): 01:30 happens twice; only the first, in BST, fires.
        (utc(2026, 10, 24, 12), [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]),
    ],
)
async def test_daily_0130_fires_once_each_night_across_dst(ledger, start, expected):
    fired = await run([rule(time(1, 30), ["daily"])], ledger, start, start + timedelta(days=2))
    assert [slot for _, slot in fired] == expected


def test_a_missing_wall_time_fires_at_the_jump():
    (slot,) = slots(rule(time(1, 30), ["sun"]).schedule, LONDON, utc(2026, 3, 28), utc(2026, 3, 30))
    assert slot.astimezone(LONDON).time() == time(2, 0)


async def test_a_restart_never_fires_a_slot_twice(ledger, ledger_path):
    daily = [rule(time(7, 30), ["daily"])]
    first = await run(daily, ledger, utc(2026, 11, 2, 7), utc(2026, 11, 2, 7, 40))
    ledger.close()
    # Back 15 minutes later: the 07:30 slot is within grace, but already sent.
    second = await run(
        daily, SlotLedger(open_database(ledger_path)), utc(2026, 11, 2, 7, 45), utc(2026, 11, 4)
    )
    assert first == [("briefing", utc(2026, 11, 2, 7, 30))]
    assert second == [("briefing", utc(2026, 11, 3, 7, 30))]


@pytest.mark.parametrize(("late", "fires"), [(timedelta(minutes=30), True), (2 * HOUR, False)])
async def test_a_slot_missed_while_down_fires_on_start_only_within_grace(ledger, late, fires):
    start = utc(2026, 11, 2, 7, 30) + late
    fired = await run([rule(time(7, 30), ["daily"])], ledger, start, start + timedelta(minutes=1))
    assert fired == ([("briefing", utc(2026, 11, 2, 7, 30))] if fires else [])


async def test_only_the_latest_of_several_missed_slots_fires(ledger):
    daily = [rule(time(7, 30), ["daily"])]
    start = utc(2026, 11, 5, 8)  # down since before Monday's slot; Monday to Thursday missed
    fired = await run(daily, ledger, start, start + HOUR, grace=timedelta(days=4))
    assert fired == [("briefing", utc(2026, 11, 5, 7, 30))]


@pytest.mark.parametrize(("asleep", "fires"), [(timedelta(minutes=30), True), (3 * HOUR, False)])
async def test_a_slot_slept_through_fires_on_waking_only_within_grace(ledger, asleep, fires):
    daily = [rule(time(7, 30), ["daily"])]
    suspend = (utc(2026, 11, 2, 7, 20), asleep)  # the lid closes ten minutes before the slot
    fired = await run(daily, ledger, utc(2026, 11, 2, 7), utc(2026, 11, 3, 8), suspend=suspend)
    today = [("briefing", utc(2026, 11, 2, 7, 30))] if fires else []
    assert fired == [*today, ("briefing", utc(2026, 11, 3, 7, 30))]


async def test_a_failing_fire_does_not_stop_later_slots(ledger):
    daily = [rule(time(7, 30), ["daily"])]
    fired = await run(daily, ledger, utc(2026, 11, 2), utc(2026, 11, 4), fail_first=True)
    assert [slot for _, slot in fired] == [utc(2026, 11, 2, 7, 30), utc(2026, 11, 3, 7, 30)]


async def test_two_schedulers_sharing_a_ledger_fire_each_slot_once(ledger_path):
    rules = [rule(time(7, 30), ["daily"]), rule(time(7, 30), ["weekdays"], name="work")]
    fired: list[tuple[str, datetime]] = []
    start, end = utc(2026, 11, 6), utc(2026, 11, 10)  # Friday to Tuesday
    await asyncio.gather(
        *(
            run(rules, SlotLedger(open_database(ledger_path)), start, end, fired=fired)
            for _ in range(2)
        )
    )
    assert sorted(fired) == sorted(
        [("briefing", utc(2026, 11, day, 7, 30)) for day in (6, 7, 8, 9)]
        + [("work", utc(2026, 11, day, 7, 30)) for day in (6, 9)]
    )


def test_the_ledger_grants_each_slot_once_across_threads_and_reopening(ledger_path):
    slot = datetime(2026, 11, 2, 7, 30, tzinfo=LONDON)
    wins: list[bool] = []
    threads = [
        threading.Thread(
            target=lambda: wins.append(SlotLedger(open_database(ledger_path)).claim("b", slot))
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]
    reopened = SlotLedger(open_database(ledger_path))
    assert not reopened.claim("b", slot.astimezone(UTC))  # the same instant, written in UTC
    assert reopened.claim("b", slot + timedelta(days=1))
    assert reopened.last_claimed("b") == utc(2026, 11, 3, 7, 30)
    assert reopened.last_claimed("nobody") is None
