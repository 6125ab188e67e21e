"""Who may use Tandem, whose events each person sees, and what each may spend.

Driven through the Telegram front end offline (tests/test_telegram.py's fake Bot API) with the
real core behind it, as a person would meet it.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.config import LimitSettings, Person, Price, Settings, TelegramSettings, UserSettings
from bot.messages import Incoming, Usage
from bot.store.access import FAILURES_PER_CODE, WRONG_CODE, Access
from bot.store.allowances import Allowances
from bot.store.db import open_database
from tests.conftest import LONDON, example_without
from tests.test_telegram import (
    BOT_USER,
    OWNER,
    STRANGER,
    message_update,
    running_bot,
    text_update,
)

GROUP = -1001234567
FRIEND = 222


def group_update(text: str, user_id: int, chat_id: int = GROUP, **extra) -> dict:
    update = text_update(text, user_id)
    update["message"]["chat"] = {"id": chat_id, "type": "supergroup", "title": "Family"}
    update["message"].update(extra)
    return update


class Clock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_767_225_600.0  # any fixed moment

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gate(tmp_path, clock) -> Access:
    settings = Settings(telegram=TelegramSettings(allowed_user_ids=[OWNER]))
    return Access(settings, open_database(tmp_path / "access.db"), clock=clock)


def test_a_pairing_code_works_once_and_lasts(gate, tmp_path):
    code = gate.new_code()
    assert len(code) == 8
    assert not gate.allows(STRANGER)

    assert gate.pair(STRANGER, code.lower()).paired
    assert gate.allows(STRANGER) and gate.paired_only(STRANGER)
    assert not gate.pair(FRIEND, code).paired  # used up
    settings = Settings(telegram=TelegramSettings(allowed_user_ids=[OWNER]))
    assert Access(settings, open_database(tmp_path / "access.db")).allows(
        STRANGER
    )  # kept across restarts


def test_an_expired_code_is_refused(gate, clock):
    code = gate.new_code()
    clock.advance(minutes=11)
    outcome = gate.pair(STRANGER, code)
    assert not outcome.paired
    assert outcome.message == WRONG_CODE


def test_wrong_codes_are_rate_limited_even_before_the_right_one(gate):
    code = gate.new_code()
    tries = [gate.pair(STRANGER, "WRONGONE") for _ in range(5)]
    assert not any(outcome.paired for outcome in tries)
    assert tries[-1].message == "Too many wrong codes: try again in an hour."
    locked = gate.pair(STRANGER, code)
    assert not locked.paired and locked.message is None  # told once; silent for the hour
    assert gate.pair(FRIEND, code).paired  # someone else, with the code, still can


def test_a_crowd_of_wrong_guesses_does_not_lock_out_a_fresh_code(gate, clock):
    # Six accounts, five wrong guesses each: thirty in a few minutes.
    for guesser in range(500, 506):
        for _ in range(5):
            assert not gate.pair(guesser, "WRONGONE").paired
    clock.advance(minutes=5)
    code = gate.new_code()  # the owner makes a code for a friend
    outcome = gate.pair(FRIEND, code)
    assert outcome.paired, outcome.message


def test_a_code_guessed_at_while_live_no_longer_works(gate, clock):
    code = gate.new_code()
    for guesser in range(500, 500 + FAILURES_PER_CODE // 5):
        for _ in range(5):
            gate.pair(guesser, "WRONGONE")
    assert not gate.pair(FRIEND, code).paired
    clock.advance(minutes=1)
    assert gate.pair(FRIEND, gate.new_code()).paired  # a new code works


def test_a_wrong_code_is_answered_at_most_once_in_ten_minutes(gate, clock):
    assert gate.pair(STRANGER, "WRONGONE").message == WRONG_CODE
    assert gate.pair(STRANGER, "WRONGTWO").message is None  # no reply to every wrong guess
    clock.advance(minutes=11)
    assert gate.pair(STRANGER, "WRONGTRE").message == WRONG_CODE


async def test_a_stranger_pairs_in_through_telegram(make_assistant, week):
    assistant = make_assistant(week)
    async with running_bot(assistant) as bot:
        code = assistant.access.new_code()
        await bot.send(text_update("What's on tomorrow?", user_id=STRANGER))
        await bot.send(text_update(f"/pair {code}", user_id=STRANGER))
        await bot.send(text_update("What's on tomorrow?", user_id=STRANGER))

    refusal, welcome, answer = bot.api.seen()
    assert str(STRANGER) in refusal and "/pair CODE" in refusal
    assert welcome.startswith("Paired: welcome to Tandem!")
    # Paired but not listed under people: no one's events, and it says why.
    assert answer.startswith("You're paired, but no calendar is set up for you yet")
    assert week.calls == 0


async def test_a_stranger_is_told_once_then_ignored(make_assistant, week):
    assistant = make_assistant(week)
    async with running_bot(assistant) as bot:
        for _ in range(5):
            await bot.send(text_update("hello?", user_id=STRANGER))
    assert len(bot.api.seen()) == 1
    assert week.calls == 0


async def test_each_person_sees_only_their_own_calendar(tmp_path, make_assistant, week):
    friend_calendar = tmp_path / "friend.ics"
    friend_calendar.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        "UID:f1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261126T150000Z\r\n"
        "DTEND:20261126T160000Z\r\nSUMMARY:Friend's piano lesson\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    friend = Person(
        telegram_id=FRIEND,
        user=UserSettings(name="Sam", timezone="Europe/London"),
        calendars=[{"type": "ics", "path": str(friend_calendar)}],
    )
    assistant = make_assistant(week, example_without(people=[friend]))

    mine = await assistant.handle(Incoming(OWNER, OWNER, "What's on tomorrow?"))
    theirs = await assistant.handle(Incoming(FRIEND, FRIEND, "What's on tomorrow?"))

    assert "Tennis match with Sam" in mine.text and "piano" not in mine.text
    assert "Friend's piano lesson" in theirs.text and "Tennis" not in theirs.text


async def test_in_a_group_only_allowed_groups_and_only_when_addressed(make_assistant, week):
    assistant = make_assistant(week)
    settings = TelegramSettings(allowed_user_ids=[OWNER], allowed_group_ids=[GROUP])
    async with running_bot(assistant, settings) as bot:
        await bot.send(group_update("What's on tomorrow?", OWNER))  # not addressed: ignored
        await bot.send(group_update("@tandem_test_bot what's on tomorrow?", OWNER))
        await bot.send(group_update("@tandem_test_bot what's on tomorrow?", OWNER, chat_id=-99))
        await bot.send(group_update("@tandem_test_bot what's on tomorrow?", STRANGER))

    sent = bot.api.named("sendMessage")
    assert [m["chat_id"] for m in sent] == [GROUP, GROUP]
    assert "Tennis match with Sam" in sent[0]["text"]
    assert str(STRANGER) in sent[1]["text"]  # a stranger in an allowed group is still refused
    assert week.calls == 1


async def test_in_a_group_each_person_has_their_own_follow_ups(make_assistant, week):
    assistant = make_assistant(week)
    await assistant.handle(Incoming(GROUP, OWNER, "What's on Saturday?", group=True))
    assert assistant.memory.focus(f"{GROUP}:{OWNER}").title == "Parkrun"
    assert assistant.memory.focus(f"{GROUP}:{FRIEND}") is None
    assert assistant.memory.recent(f"{GROUP}:{FRIEND}") == []


async def test_in_a_group_a_reply_to_tandem_counts_as_addressed(make_assistant, week):
    settings = TelegramSettings(allowed_user_ids=[OWNER], allowed_group_ids=[GROUP])
    from_tandem = {**message_update(OWNER)["message"], "from": BOT_USER}
    from_someone = message_update(OWNER)["message"]
    async with running_bot(make_assistant(week), settings) as bot:
        await bot.send(group_update("and on Saturday?", OWNER, reply_to_message=from_tandem))
        await bot.send(group_update("and on Sunday?", OWNER, reply_to_message=from_someone))
    [answer] = bot.api.seen()
    assert "Parkrun" in answer


NOON = datetime(2026, 11, 25, 12, 0, tzinfo=LONDON)
PRICE = Price(input=3, output=15, cache_write=3.75, cache_read=0.3)


def test_the_daily_token_cap_says_when_it_resets(tmp_path):
    budgets = Allowances(LimitSettings(daily_tokens=1000), PRICE, open_database(tmp_path / "b.db"))
    assert budgets.refusal(OWNER, NOON) is None
    budgets.add(OWNER, NOON, Usage(1, 900, 150))
    assert budgets.refusal(OWNER, NOON) == (
        "You've used today's 1,000 model tokens. "
        "The daily budget resets at midnight, in 12 h 0 min."
    )
    assert budgets.refusal(FRIEND, NOON) is None  # per person
    tomorrow = NOON.replace(day=26)
    assert budgets.refusal(OWNER, tomorrow) is None


def test_the_daily_dollar_cap(tmp_path):
    budgets = Allowances(
        LimitSettings(daily_cost_usd=0.01), PRICE, open_database(tmp_path / "b.db")
    )
    budgets.add(OWNER, NOON, Usage(2, 2000, 400))  # 0.006 + 0.006 dollars
    assert budgets.refusal(OWNER, NOON).startswith("You've used today's $0.01 budget.")


def test_the_message_rate(tmp_path):
    budgets = Allowances(
        LimitSettings(messages_per_minute=3), PRICE, open_database(tmp_path / "b.db")
    )
    assert [budgets.refusal(OWNER, NOON) for _ in range(3)] == [None, None, None]
    assert budgets.refusal(OWNER, NOON).startswith("That's more than 3 messages in a minute.")


async def test_usage_shows_today_and_a_capped_person_is_told(make_assistant, week):
    assistant = make_assistant(week, example_without(limits=LimitSettings(daily_tokens=0)))
    refused = await assistant.handle(Incoming(7, 7, "What's on tomorrow?"))
    assert refused.text.startswith("You've used today's 0 model tokens.")
    assert week.calls == 0

    assistant = make_assistant(week)
    await assistant.handle(Incoming(8, 8, "What's on tomorrow?"))
    usage = (await assistant.handle(Incoming(8, 8, "/usage"))).text
    assert usage.startswith("Today: 1 message, 0 model calls.\nTokens: 0 of 200,000")
    assert "resets at midnight, in 14 h 0 min" in usage
