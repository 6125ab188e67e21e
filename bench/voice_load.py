"""4. Voice: a voice note's time, and what eight in the making do to text answers elsewhere.

The voice note is for a 300-character reply; the text answers are in other chats.

Through the core: `Voice.add_to` (the speech step a reply with a voice note takes), on
the reply text of bench/voice.py. Text answers: `Assistant.handle` on the example scenarios'
questions, one after another (fakes at 0 ms, the sample calendar file), TEXTS of them with no
speech going on, then TEXTS while eight voice notes are always being made (each one finished is
replaced by a new one). A round does both; a figure is the median over ROUNDS rounds (min-max).
Run: .venv/bin/python -m bench.voice_load
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time

from bench.common import (
    QUESTIONS,
    Figure,
    Latency,
    figures_table,
    percentile,
    scratch,
    upstreams,
    write_config,
)
from bench.common import assistant as make_assistant
from bench.profiling import gil_profile, shares
from bench.voice import REPLY
from bot.core import Assistant
from bot.messages import Incoming, Reply

NOTES = 9  # voice notes timed one at a time
AT_ONCE = 8
TEXTS = 150  # text answers with no speech going on
LOADED_SECONDS = 4.0  # text answers while speaking: as many as fit in this time
ROUNDS = 3
MADE: list[float] = []  # how long each voice note made under load took


async def voice_note(core: Assistant) -> float:
    started = time.perf_counter()
    reply = await core.voice.add_to(Reply(REPLY), core.settings.user.language)
    assert reply.voice is not None, "no voice note was made"
    return time.perf_counter() - started


async def text_answers(
    core: Assistant, first_chat: int, count: int = TEXTS, seconds: float = float("inf")
) -> tuple[list[float], list[float]]:
    """`count` text answers one after another (or as many as `seconds` allow): how long each
    took, and how long its calendar search took."""
    times, searches = [], []
    deadline = time.perf_counter() + seconds
    for n in range(count):
        if time.perf_counter() > deadline:
            break
        chat = first_chat + n // len(QUESTIONS)
        started = time.perf_counter()
        reply = await core.handle(Incoming(chat, chat, QUESTIONS[n % len(QUESTIONS)]))
        times.append(time.perf_counter() - started)
        searches += [s.seconds for s in reply.steps if s.name == "search_calendar"]
    return times, searches


async def keep_speaking(core: Assistant, made: list[float]) -> None:
    """Keep AT_ONCE voice notes in the making until cancelled."""

    async def one_after_another() -> None:
        while True:
            made.append(await voice_note(core))

    await asyncio.gather(*(one_after_another() for _ in range(AT_ONCE)))


async def while_speaking(core: Assistant, first_chat: int) -> tuple[list[float], list[float]]:
    """Text answers for LOADED_SECONDS while AT_ONCE voice notes are always being made; each
    answer's time and each calendar search's time (the voice notes' are in `made`)."""
    made: list[float] = []
    speaking = asyncio.create_task(keep_speaking(core, made))
    await asyncio.sleep(0.2)  # let the eight get going
    try:
        return await text_answers(core, first_chat, seconds=LOADED_SECONDS)
    finally:
        speaking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await speaking
        MADE.extend(made)


async def measure_async() -> tuple[list[Figure], str]:
    with scratch() as folder, upstreams(Latency()) as ups:
        core = make_assistant(write_config(folder, ups), ups)
        await voice_note(core)  # the first one starts the speech engine
        await text_answers(core, 1)  # warm up
        notes = [await voice_note(core) for _ in range(NOTES)]
        alone_p99, loaded_p99, slower = [], [], []
        searches_alone, searches_loaded = [], []
        for round_number in range(ROUNDS):
            alone, searched = await text_answers(core, (round_number + 1) * 10_000)
            searches_alone += searched
            loaded, searched = await while_speaking(core, (round_number + 1) * 10_000 + 5_000)
            searches_loaded += searched
            alone_p99.append(percentile(alone, 99))
            loaded_p99.append(percentile(loaded, 99))
            slower.append(percentile(loaded, 99) - percentile(alone, 99))
        with gil_profile(os.getpid(), folder / "gil.raw"):
            await while_speaking(core, 90_000)
        held = shares(folder / "gil.raw")
    note = Figure(f"4. voice note, {len(REPLY)} characters", notes, "s", "≤ 0.5 s")
    note.met = note.median <= 0.5
    slowdown = Figure(
        f"4. text p99 slower while {AT_ONCE} voice notes are made",
        slower,
        "ms",
        "≤ 50 ms",
        note=(
            f"p99 alone {statistics.median(alone_p99) * 1000:.0f} ms, while speaking "
            f"{statistics.median(loaded_p99) * 1000:.0f} ms; a voice note meanwhile took "
            f"{statistics.median(MADE):.2f} s"
        ),
    )
    slowdown.met = slowdown.median <= 0.050
    detail = (
        f"  a calendar search took median {statistics.median(searches_alone) * 1000:.1f} ms "
        f"alone, {statistics.median(searches_loaded) * 1000:.1f} ms while speaking "
        f"(p90 {percentile(searches_loaded, 90) * 1000:.0f} ms): it waits for a thread of "
        f"asyncio's default executor ({min(32, (os.cpu_count() or 1) + 4)} here), which the "
        "voice notes' encoding also uses\n"
        f"  while {AT_ONCE} voice notes were made, the GIL was held by:\n{held}"
    )
    return [note, slowdown], detail


def measure() -> tuple[list[Figure], str]:
    return asyncio.run(measure_async())


def main() -> None:
    figures, detail = measure()
    print(f"Voice; {ROUNDS} rounds of {TEXTS} text answers:")
    print(figures_table(figures))
    print(detail)


if __name__ == "__main__":
    main()
