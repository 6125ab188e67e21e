"""1. Tandem's own time per message: workflow mode, upstreams at 0 ms.

`Assistant.handle` on the example config and the sample calendar (the file), answering the
example scenarios' questions in turn, each five in a chat of their own (so "what will the
weather be?" follows "what's on Saturday?"). Two ways of taking the upstreams away:

- "fakes at 0 ms": Claude and Open-Meteo are the local fakes answering at once, over HTTP
  through the real clients (anthropic SDK, requests); the weather cache is off. Includes the
  loopback HTTP and the fakes' own work, on the same two cores.
- "in-process": Claude is a stub that answers at once, and the weather comes from Tandem's own
  cache (cache_minutes 30, warmed first). What is left is Tandem's code alone.

Each round answers MESSAGES messages; a figure is the median over ROUNDS rounds (min-max).
Run: .venv/bin/python -m bench.overhead
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

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
from bot.core import Assistant
from bot.messages import Incoming
from integrations.llm import Completion

ROUNDS = 5
MESSAGES = 250


class InstantClaude:
    """Stands in for integrations.llm.Claude: answers every call at once, with a fixed text."""

    model = "claude-sonnet-5-5"

    async def write(self, system: str, messages: list[dict[str, Any]]) -> Completion:
        text = "You have Parkrun on Saturday at 09:00 at Hampstead Heath, London."
        return Completion([{"type": "text", "text": text}], "end_turn", 900, 20)


@dataclass
class Round:
    times: list[float] = field(default_factory=list)
    by_question: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # Where the time went, summed over the round: each tool, the answer step, everything else.
    parts: dict[str, float] = field(default_factory=lambda: defaultdict(float))


async def one_round(core: Assistant, chat_base: int) -> Round:
    done = Round()
    for n in range(MESSAGES):
        chat = chat_base + n // len(QUESTIONS)
        question = QUESTIONS[n % len(QUESTIONS)]
        started = time.perf_counter()
        reply = await core.handle(Incoming(chat, chat, question))
        took = time.perf_counter() - started
        done.times.append(took)
        done.by_question[question].append(took)
        steps = [s for s in reply.steps if s.kind in ("tool", "answer")]
        for step in steps:
            part = f"tool {step.name}" if step.kind == "tool" else f"answer ({step.name})"
            done.parts[part] += step.seconds
        # Steps of one batch run at once; this is close enough when they do not overlap.
        done.parts["everything else"] += took - sum(step.seconds for step in steps)
    return done


async def measure_variant(core: Assistant, label: str) -> tuple[list[Figure], str]:
    await one_round(core, 1_000_000)  # warm up: imports, first connections, caches
    p50s, p99s = [], []
    per_question: dict[str, list[float]] = defaultdict(list)
    parts: dict[str, float] = defaultdict(float)
    for round_number in range(ROUNDS):
        done = await one_round(core, (round_number + 1) * 10_000)
        p50s.append(percentile(done.times, 50))
        p99s.append(percentile(done.times, 99))
        for question, seen in done.by_question.items():
            per_question[question] += seen
        for part, seconds in done.parts.items():
            parts[part] += seconds
    figures = [
        Figure(f"1. own time p50 ({label})", p50s, "ms", "≤ 3 ms"),
        Figure(f"1. own time p99 ({label})", p99s, "ms", "≤ 15 ms"),
    ]
    figures[0].met = figures[0].median <= 0.003
    figures[1].met = figures[1].median <= 0.015
    detail = "\n".join(
        f"    {question:<40} p50 {percentile(seen, 50) * 1000:6.1f} ms   "
        f"p99 {percentile(seen, 99) * 1000:6.1f} ms"
        for question, seen in per_question.items()
    )
    answered = ROUNDS * MESSAGES
    split = "\n".join(
        f"    {part:<40} {seconds / answered * 1000:6.2f} ms a message"
        for part, seconds in sorted(parts.items(), key=lambda item: -item[1])
    )
    return figures, (
        f"  {label}, by question (all rounds):\n{detail}\n"
        f"  {label}, where the time goes (mean over all messages):\n{split}"
    )


async def measure_async() -> tuple[list[Figure], str]:
    figures, details = [], []
    with scratch() as folder, upstreams(Latency()) as ups:
        core = make_assistant(write_config(folder / "a", ups), ups)
        found, detail = await measure_variant(core, "fakes at 0 ms")
        figures += found
        details.append(detail)
    with scratch() as folder, upstreams(Latency()) as ups:
        config = write_config(folder / "b", ups)
        text = config.read_text().replace("cache_minutes: 0", "cache_minutes: 30")
        config.write_text(text)
        core = make_assistant(config, ups)
        core.workflow.llm = InstantClaude()  # type: ignore[assignment]
        found, detail = await measure_variant(core, "in-process")
        figures += found
        details.append(detail)
    return figures, "\n".join(details)


def measure() -> tuple[list[Figure], str]:
    return asyncio.run(measure_async())


def main() -> None:
    figures, detail = measure()
    print(f"Own time per message, {ROUNDS} rounds of {MESSAGES} messages:")
    print(figures_table(figures))
    print(detail)


if __name__ == "__main__":
    main()
