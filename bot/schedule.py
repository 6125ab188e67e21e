"""Scheduled rules: when each one fires, and a ledger so no slot is ever sent twice.

A rule with `schedule: {at: "07:30", days: [weekdays], ask: ...}` fires at 07:30 local wall time on
each matching local date, whatever the UTC offset is that day. Slots are UTC instants; show them
with `.astimezone(zone)`. Two daylight-saving edge cases, each firing exactly once:

- a wall time that does not exist (01:30 on a spring-forward night in London) fires at the first
  valid instant after the gap, the moment the clocks jump (02:00 BST that night);
- a wall time that happens twice (01:30 on an autumn-back night) fires at the first (fold=0).

The ledger (bot/store/slots.py) records every claimed slot, so restarts and a second process
sharing the file never repeat one. `Scheduler.run_forever` sleeps until the next slot and fires it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import Rule, Schedule, Settings
from bot.store.slots import SlotLedger

log = logging.getLogger(__name__)

# Sleep at most this long before re-reading the clock: a suspended laptop or a clock change then
# costs at most a minute. It is also the lateness that still counts as on time, so a sleep that
# wakes a few milliseconds late does not drop a slot when grace is 0.
CHUNK = timedelta(seconds=60)
HORIZON = timedelta(days=8)  # every schedule fires at least once a week


def slots(schedule: Schedule, zone: ZoneInfo, after: datetime, until: datetime) -> list[datetime]:
    """Every instant in (after, until] at which the schedule fires, as UTC datetimes, in order."""
    days = schedule.weekdays
    day, last = after.astimezone(zone).date(), until.astimezone(zone).date()
    found = []
    while day <= last:
        if day.weekday() in days:
            instant = _wall_time(day, schedule, zone)
            if after < instant <= until:
                found.append(instant)
        day += timedelta(days=1)  # a date, not an aware datetime: no DST arithmetic here
    return found


def _wall_time(day: date, schedule: Schedule, zone: ZoneInfo) -> datetime:
    # fold=0 (the default) picks the first of two 01:30s on an autumn-back night.
    local = datetime.combine(day, schedule.at, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # In a gap, fold=1 maps with the offset after the jump (an instant before it) and fold=0 with
    # the offset before (an instant after it): bisect the whole seconds between for the jump.
    before = int(local.replace(fold=1).timestamp())
    after = int(local.timestamp())
    jumped = datetime.fromtimestamp(after, zone).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == jumped:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


class Scheduler:
    """Fires scheduled rules on time, at most once per slot.

    A slot is claimed in the ledger BEFORE `fire` runs, so none is ever sent twice; a crash between
    the claim and the send loses that one slot (durable execution is a later issue). After
    downtime or a suspend, only each rule's latest missed slot fires, and only within `grace`:
    nobody wants three stale morning briefings.
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        zone: ZoneInfo,
        grace: timedelta,
        ledger: SlotLedger,
        fire: Callable[[Rule, datetime], Awaitable[None]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rules = [(rule, rule.schedule) for rule in rules if rule.schedule is not None]
        self.zone = zone
        self.late_ok = max(grace, CHUNK)
        self.ledger = ledger
        self._fire = fire
        self._clock = clock  # must return aware datetimes
        self._sleep = sleep

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        ledger: SlotLedger,
        fire: Callable[[Rule, datetime], Awaitable[None]],
        clock: Callable[[], datetime],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> Scheduler:
        """The config's scheduled rules, in the user's zone with its grace window."""
        grace = timedelta(minutes=settings.scheduler.grace_minutes)
        return cls(settings.rules, settings.user.zone, grace, ledger, fire, clock, sleep)

    def next_slot(self, now: datetime) -> tuple[Rule, datetime] | None:
        """The first slot after `now` over all rules (the earlier rule on a tie), or None."""
        upcoming = [
            (rule, found[0])
            for rule, schedule in self.rules
            if (found := slots(schedule, self.zone, now, now + HORIZON))
        ]
        return min(upcoming, key=lambda pair: pair[1], default=None)

    async def run_forever(self) -> None:
        """Catch up on slots missed within grace, then fire each slot as it comes. Never returns
        while some rule is scheduled."""
        now = self._clock()
        await self._fire_due(now - self.late_ok, now)
        checked = now
        while (upcoming := self.next_slot(checked)) is not None:
            due = upcoming[1]
            while (now := self._clock()) < due:
                await self._sleep(min(due - now, CHUNK).total_seconds())
            await self._fire_due(checked, now)
            checked = now

    async def _fire_due(self, after: datetime, now: datetime) -> None:
        for rule, schedule in self.rules:
            missed = slots(schedule, self.zone, after, now)
            if not missed:
                continue
            slot = missed[-1]  # only the latest: earlier ones are stale by now
            if now - slot > self.late_ok:
                log.info("skipping rule %r: its %s slot is past the grace window", rule.name, slot)
            elif self.ledger.claim(rule.name, slot):
                log.info("firing rule %r for its %s slot", rule.name, slot)
                try:
                    await self._fire(rule, slot)
                except Exception:  # one failed briefing must not stop the next ones
                    log.exception("scheduled rule %r failed for its %s slot", rule.name, slot)
