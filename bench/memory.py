"""6. Memory of the real `tandem run`: idle with everything loaded, then after 10,000 messages.

`tandem run` (durable runs, polling) against the fake Bot API, the fake Messages API and the
fake Open-Meteo at 0 ms, the sample calendar file. "Everything loaded": it has answered the
example scenarios' questions in workflow mode, a weekend-weather question in agent mode and a
`/say` (a voice note), then idles for IDLE_SECONDS. Then MESSAGES messages (the scenarios'
questions in turn, from CHATS chats, sent BATCH at a time), then idle again. Resident memory
(VmRSS) is read from /proc: a figure is the median of READINGS readings a second apart
(min-max), after the idle pause.
Run: .venv/bin/python -m bench.memory [--messages N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from bench.common import (
    QUESTIONS,
    Bot,
    Figure,
    Latency,
    figures_table,
    load_average,
    scratch,
    tandem_run,
    upstreams,
)
from bench.profiling import cpu_seconds

MESSAGES = 10_000
CHATS = 100
BATCH = 100  # messages sent at once (one getUpdates fetches up to 100)
IDLE_SECONDS = 3.0
READINGS = 3
STEPS = 4  # readings of the trend while the messages go through


# What `tandem run` imports, biggest shared dependencies first; each one's resident memory is
# what importing it adds to everything before it.
IMPORTS = (
    "pydantic", "numpy", "requests", "duckling", "icalendar", "recurring_ical_events",
    "telegram.ext", "sqlalchemy", "dbos", "opentelemetry.sdk.trace", "anthropic", "bot.cli",
    "bot.telegram.server",
)  # fmt: skip
MEASURE_IMPORTS = """
import importlib, sys
def rss():
    status = open("/proc/self/status").read().split("VmRSS:")[1]
    return int(status.split()[0]) / 1024
before = rss()
print(f"python itself {before:.0f} MB")
for name in sys.argv[1:]:
    importlib.import_module(name)
    now = rss()
    print(f"{name} +{now - before:.0f} MB")
    before = now
"""


def import_costs() -> str:
    """What each big import adds to a fresh interpreter's resident memory, in a subprocess."""
    said = subprocess.run(
        [sys.executable, "-c", MEASURE_IMPORTS, *IMPORTS], capture_output=True, text=True
    ).stdout
    return ", ".join(said.splitlines())


def idle_rss(bot: Bot) -> list[float]:
    time.sleep(IDLE_SECONDS)
    readings = []
    for _ in range(READINGS):
        readings.append(bot.rss_mb())
        time.sleep(1.0)
    return readings


def warm_up(bot: Bot) -> None:
    """Answer one of everything: each scenario question, a voice note, agent mode."""
    for question in QUESTIONS:
        bot.ask([(1, question)])
    bot.ask([(2, "/say what's on Saturday?")])
    bot.ask([(3, "/mode agent")])
    bot.ask([(3, "Will it rain this weekend?")])


def measure(messages: int = MESSAGES) -> tuple[list[Figure], str]:
    users = [1, 2, 3, *range(1000, 1000 + CHATS)]
    trend = []
    with (
        scratch() as folder,
        upstreams(Latency(), real_clock=True) as ups,
        tandem_run(folder, ups, users) as bot,
    ):
        at_start = bot.rss_mb()
        warm_up(bot)
        before, threads_before = idle_rss(bot), bot.threads()
        started, cpu = time.monotonic(), cpu_seconds(bot.process.pid)
        for sent in range(0, messages, BATCH):
            batch = [
                (1000 + n % CHATS, QUESTIONS[(sent + n) // CHATS % len(QUESTIONS)])
                for n in range(min(BATCH, messages - sent))
            ]
            bot.ask(batch, timeout=300)
            if sent == 0 or (sent + BATCH) % (messages // STEPS) < BATCH:
                trend.append(f"{sent + len(batch):,}: {bot.rss_mb():.0f} MB")
        seconds = time.monotonic() - started
        cpu_per_message = (cpu_seconds(bot.process.pid) - cpu) / messages
        after, threads_after = idle_rss(bot), bot.threads()
    load = f"load {load_average().split()[0]}"
    idle = Figure("6. tandem run idle, everything loaded", before, "MB", "≤ 110 MB", note=load)
    idle.met = idle.median <= 110
    growth = Figure(
        f"6. growth after {messages:,} messages",
        [a - statistics.median(before) for a in after],
        "MB",
        "≤ 10 MB",
        note=f"{statistics.median(after):.0f} MB after; {load}",
    )
    growth.met = growth.median <= 10
    threads = Figure(
        f"6. threads after {messages:,} messages",
        [threads_after],
        "",
        note=f"{threads_before} before them",
    )
    detail = (
        f"  at start (nothing answered yet) {at_start:.0f} MB; imports: {import_costs()}\n"
        f"  {messages:,} messages in {seconds:.0f} s ({messages / seconds:.0f} a second, "
        f"{cpu_per_message * 1000:.0f} ms CPU each); resident memory along the way: "
        + ", ".join(trend)
    )
    return [idle, growth, threads], detail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=MESSAGES)
    figures, detail = measure(parser.parse_args().messages)
    print(figures_table(figures))
    print(detail)


if __name__ == "__main__":
    main()
