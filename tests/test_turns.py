"""A worker running every chat itself keeps each chat's order (bot/telegram/turns.py): runs of a
chat answer one at a time in the order announced, whatever order they reach their turn in;
other chats go at once, up to the worker's limit; nothing starts before the runs a stop left
unfinished are announced."""

from __future__ import annotations

import asyncio

from bot.telegram.turns import ChatTurns


async def _answer(
    turns: ChatTurns, chat: str, run: str, log: list[str], hold: asyncio.Event
) -> None:
    async with turns.turn(chat, run):
        log.append(f"start {run}")
        await hold.wait()
        log.append(f"end {run}")


def test_a_chats_runs_answer_one_at_a_time_in_the_order_announced() -> None:
    async def scenario() -> list[str]:
        turns, log, hold = ChatTurns(at_once=10), [], asyncio.Event()
        for run in ("a1", "a2", "a3"):
            turns.announce("a", run)
        turns.ready()
        # They reach their turn in another order than they came in.
        tasks = [
            asyncio.create_task(_answer(turns, "a", run, log, hold)) for run in ("a3", "a1", "a2")
        ]
        await asyncio.sleep(0.01)
        hold.set()
        await asyncio.gather(*tasks)
        return log

    assert asyncio.run(scenario()) == [
        "start a1",
        "end a1",
        "start a2",
        "end a2",
        "start a3",
        "end a3",
    ]


def test_other_chats_answer_at_once_up_to_the_limit() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        turns, log, hold = ChatTurns(at_once=2), [], asyncio.Event()
        turns.ready()
        tasks = [asyncio.create_task(_answer(turns, chat, f"{chat}1", log, hold)) for chat in "xyz"]
        await asyncio.sleep(0.01)
        started = list(log)
        hold.set()
        await asyncio.gather(*tasks)
        return started, log

    started, log = asyncio.run(scenario())
    assert started == ["start x1", "start y1"]  # z waits for a free place, not for x or y's chat
    assert sorted(entry for entry in log if entry.startswith("end")) == [
        "end x1",
        "end y1",
        "end z1",
    ]


def test_nothing_starts_before_the_unfinished_runs_are_announced() -> None:
    async def scenario() -> list[str]:
        turns, log, hold = ChatTurns(at_once=10), [], asyncio.Event()
        hold.set()
        # A new run is ready first; the one a crash left unfinished is announced after it.
        new = asyncio.create_task(_answer(turns, "a", "new", log, hold))
        await asyncio.sleep(0.01)
        assert log == []
        turns.announce("a", "left over")
        turns.ready()
        old = asyncio.create_task(_answer(turns, "a", "left over", log, hold))
        await asyncio.gather(new, old)
        return log

    assert asyncio.run(scenario()) == ["start left over", "end left over", "start new", "end new"]


def test_a_run_that_fails_lets_the_next_go() -> None:
    async def scenario() -> list[str]:
        turns, log = ChatTurns(at_once=1), []
        turns.announce("a", "a1")
        turns.announce("a", "a2")
        turns.ready()

        async def failing() -> None:
            async with turns.turn("a", "a1"):
                raise RuntimeError("the answer failed")

        async def next_one() -> None:
            async with turns.turn("a", "a2"):
                log.append("a2 answered")

        results = await asyncio.gather(failing(), next_one(), return_exceptions=True)
        assert isinstance(results[0], RuntimeError)
        return log

    assert asyncio.run(scenario()) == ["a2 answered"]


def test_a_run_that_ends_before_its_turn_does_not_hold_up_its_chat() -> None:
    async def scenario() -> list[str]:
        turns, log, hold = ChatTurns(at_once=10), [], asyncio.Event()
        hold.set()
        for run in ("a1", "a2"):
            turns.announce("a", run)
        turns.ready()
        turns.finished("a", "a1")  # a1's run ended without ever reaching its turn
        await _answer(turns, "a", "a2", log, hold)
        return log

    assert asyncio.run(scenario()) == ["start a2", "end a2"]
