"""2. Many chats at once: are 100 chats asking together each answered within 1.5x one chat?

Upstreams: the model 1 s a call, the calendar 200 ms a fetch, Open-Meteo 200 ms a request
(weather cache off). Every chat asks "Will it rain at my tennis match?" (the weather rule:
calendar search, weather forecast, Claude's answer), which touches all three.

- in-process: 100 concurrent `Assistant.handle` calls, against one `handle` alone.
- `tandem run`: the real process (durable runs, polling) and the fake Bot API: 100 updates
  queued at once; each chat's time from queueing to its reply (sendMessage) reaching the fake,
  against one update alone. Also when each chat's run started (its first "typing...").

One chat alone is timed SINGLES times (median); each round sends CHATS at once; a figure is the
median over ROUNDS rounds (min-max). Then one more round of each, profiled: CPU per message,
and (with py-spy) who held the GIL. Run: .venv/bin/python -m bench.concurrency
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field

from bench.common import (
    Figure,
    Latency,
    figures_table,
    percentile,
    scratch,
    tandem_run,
    upstreams,
    write_config,
)
from bench.common import assistant as make_assistant
from bench.profiling import cpu_seconds, gil_profile, shares
from bot.core import Assistant
from bot.messages import Incoming

LATENCY = Latency(model=1.0, weather=0.2, calendar=0.2)
QUESTION = "Will it rain at my tennis match?"
CHATS = 100
ROUNDS = 3
SINGLES = 3
TARGET = 1.5


@dataclass
class Burst:
    """What one way of running Tandem did: one chat alone, then rounds of CHATS at once."""

    label: str
    single: float = 0.0
    rounds: list[list[float]] = field(default_factory=list)  # each chat's seconds to its reply
    notes: list[str] = field(default_factory=list)

    def figures(self) -> list[Figure]:
        slowest = Figure(
            f"2. slowest of {CHATS} chats ÷ one chat ({self.label})",
            [max(times) / self.single for times in self.rounds],
            "×",
            f"≤ {TARGET}×",
            note=f"one chat alone {self.single:.2f} s",
        )
        slowest.met = slowest.median <= TARGET
        median = Figure(
            f"2. median of {CHATS} chats ÷ one chat ({self.label})",
            [percentile(times, 50) / self.single for times in self.rounds],
            "×",
        )
        return [slowest, median]


async def timed(core: Assistant, chat: int) -> float:
    started = time.perf_counter()
    await core.handle(Incoming(chat, chat, QUESTION))
    return time.perf_counter() - started


async def in_process() -> Burst:
    burst = Burst("in-process")
    with scratch() as folder, upstreams(LATENCY) as ups:
        # The core alone takes on every chat at once (`tandem run` takes runs_per_worker).
        core = make_assistant(write_config(folder, ups, runs_at_once=CHATS), ups)
        await timed(core, 1)  # warm up
        burst.single = statistics.median([await timed(core, 2 + n) for n in range(SINGLES)])
        cpu = time.process_time()
        for round_number in range(ROUNDS):
            first = (round_number + 1) * 1000
            times = await asyncio.gather(*(timed(core, first + n) for n in range(CHATS)))
            burst.rounds.append(list(times))
        cpu_per_message = (time.process_time() - cpu) / (ROUNDS * CHATS)
        # One more round, profiled (py-spy slows it a little, so it is not in the figures).
        first = (ROUNDS + 1) * 1000
        with gil_profile(os.getpid(), folder / "gil.raw"):
            await asyncio.gather(*(timed(core, first + n) for n in range(CHATS)))
        threads = min(32, (os.cpu_count() or 1) + 4)
        burst.notes.append(
            f"  in-process: tools and memory writes run in asyncio's default executor "
            f"({threads} threads here); {cpu_per_message * 1000:.0f} ms CPU a message under "
            f"load; the GIL was held by:\n{shares(folder / 'gil.raw', cpu_per_message)}"
        )
    return burst


def through_tandem_run() -> Burst:
    burst = Burst("tandem run")
    users = [1, *range(2, 2 + SINGLES), *range(1000, 1000 + CHATS * (ROUNDS + 1))]
    with (
        scratch() as folder,
        upstreams(LATENCY, real_clock=True) as ups,
        tandem_run(folder, ups, users) as bot,
    ):
        bot.ask([(1, QUESTION)])  # warm up
        alone = [bot.ask([(2 + n, QUESTION)])[0].reply for n in range(SINGLES)]
        burst.single = statistics.median(alone)
        starts, cpu = [], cpu_seconds(bot.process.pid)
        for round_number in range(ROUNDS):
            first = 1000 + round_number * CHATS
            arrivals = bot.ask([(first + n, QUESTION) for n in range(CHATS)])
            burst.rounds.append([arrival.reply for arrival in arrivals])
            starts += [arrival.typing for arrival in arrivals]
        cpu_per_message = (cpu_seconds(bot.process.pid) - cpu) / (ROUNDS * CHATS)
        burst.notes.append(
            f'  tandem run: runs started (first "typing...") after median '
            f"{statistics.median(starts):.2f} s, slowest {max(starts):.2f} s "
            f"(alone: {bot.ask([(2, QUESTION)])[0].typing:.2f} s)"
        )
        # One more round, profiled (py-spy slows it a little, so it is not in the figures).
        first = 1000 + ROUNDS * CHATS
        with gil_profile(bot.process.pid, folder / "gil.raw"):
            bot.ask([(first + n, QUESTION) for n in range(CHATS)])
        burst.notes.append(
            f"  tandem run: {cpu_per_message * 1000:.0f} ms CPU a message under load; "
            f"the GIL was held by:\n{shares(folder / 'gil.raw', cpu_per_message)}"
        )
    return burst


def measure() -> tuple[list[Figure], str]:
    bursts = [asyncio.run(in_process()), through_tandem_run()]
    figures = [figure for burst in bursts for figure in burst.figures()]
    return figures, "\n".join(note for burst in bursts for note in burst.notes)


def main() -> None:
    figures, notes = measure()
    print(
        f"{CHATS} chats at once; model {LATENCY.model:g} s, calendar {LATENCY.calendar:g} s, "
        f"Open-Meteo {LATENCY.weather:g} s a request; {ROUNDS} rounds:"
    )
    print(figures_table(figures))
    print(notes)


if __name__ == "__main__":
    main()
