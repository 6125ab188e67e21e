"""3. Critical path: independent steps should take as long as the slowest, not their sum.

Upstreams: the calendar 300 ms a fetch, Open-Meteo 100 ms a request, the model 500 ms a call.

- workflow: a rule with the example morning briefing's steps (`search_calendar`, then
  `weather_forecast` at home, no dependency between them, then Claude's answer), asked as a
  message ("my briefing for today"). Ideal: max(calendar, weather) + model, each as long as it
  took in that very run (the trace times every step).
- agent: "Will it rain this weekend?" (the scripted Claude asks for the weekend's events, then
  for a forecast at each event's place, all in ONE response). Ideal: every model call plus the
  slowest tool of each response.

A figure is measured minus ideal, median over RUNS runs (min-max); the target is 50 ms.
Run: .venv/bin/python -m bench.critical_path
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bench.common import (
    BRIEFING_RULE,
    Figure,
    Latency,
    figures_table,
    scratch,
    upstreams,
    write_config,
)
from bench.common import assistant as make_assistant
from bot.core import Assistant
from bot.messages import Incoming, TraceStep

LATENCY = Latency(model=0.5, weather=0.1, calendar=0.3)
BRIEFING, WEEKEND = "my briefing for today", "Will it rain this weekend?"
RUNS = 5
TARGET = 0.050


@dataclass(frozen=True)
class Path:
    """One answer's wall time and what its trace says the ideal and the serial times are."""

    measured: float
    ideal: float  # model calls + the slowest tool of each group of tools asked together
    serial: float  # model calls + every tool, one after another
    widest: int  # the most tools asked together


def path(measured: float, steps: tuple[TraceStep, ...]) -> Path:
    groups: list[list[float]] = [[]]
    models = 0.0
    for step in steps:
        if step.kind == "tool":
            groups[-1].append(step.seconds)
        elif step.kind in ("model", "answer"):
            models += step.seconds
            groups.append([])
    ideal = models + sum(max(group, default=0.0) for group in groups)
    serial = models + sum(sum(group) for group in groups)
    return Path(measured, ideal, serial, max(len(group) for group in groups))


async def run(core: Assistant, chat: int, text: str, mode: str) -> Path:
    started = time.perf_counter()
    reply = await core.handle(Incoming(chat, chat, text, mode=mode))  # type: ignore[arg-type]
    return path(time.perf_counter() - started, reply.steps)


def figure(name: str, paths: list[Path]) -> Figure:
    found = Figure(
        name,
        [p.measured - p.ideal for p in paths],
        "ms",
        "≤ 50 ms",
        note=(
            f"measured {min(p.measured for p in paths):.2f}–{max(p.measured for p in paths):.2f}"
            f" s, ideal {paths[0].ideal:.2f} s, one after another {paths[0].serial:.2f} s; "
            f"up to {max(p.widest for p in paths)} tools at once"
        ),
    )
    found.met = found.median <= TARGET
    return found


async def measure_async() -> list[Figure]:
    with scratch() as folder, upstreams(LATENCY) as ups:
        core = make_assistant(write_config(folder, ups, rules=[BRIEFING_RULE]), ups)
        await run(core, 1, BRIEFING, "workflow")  # warm up
        briefing = [await run(core, 10 + n, BRIEFING, "workflow") for n in range(RUNS)]
        agent = [await run(core, 20 + n, WEEKEND, "agent") for n in range(RUNS)]
    return [
        figure("3. calendar ∥ weather, workflow: measured − ideal", briefing),
        figure("3. tools of one response, agent: measured − ideal", agent),
    ]


def measure() -> tuple[list[Figure], str]:
    return asyncio.run(measure_async()), ""


def main() -> None:
    figures, _ = measure()
    print(
        f"Critical path; calendar {LATENCY.calendar:g} s a fetch, Open-Meteo {LATENCY.weather:g}"
        f" s a request, model {LATENCY.model:g} s a call; {RUNS} runs:"
    )
    print(figures_table(figures))


if __name__ == "__main__":
    main()
