"""7. What durability costs: the real `tandem run` with its journal, against the same without.

Each round starts the real `tandem run` twice for each variant, durable (DBOS journal) and
journal off (bench/journal_off.py: the same process with the immediate journal), alternating
which goes first, against the fake Bot API:

- one chat, the model answering at once: MESSAGES times "What's on Saturday?" one after the
  other (a calendar search in the sample file and one model call). CPU seconds of the `tandem
  run` process per answered message, and the time from queueing a message to its reply;
- a burst, the model taking 1 s a call (calendar 0.2 s, Open-Meteo 0.2 s a request): one chat
  alone (median of SINGLES), then CHATS chats at once asking "Will it rain at my tennis
  match?"; the last reply ÷ one chat alone, CPU per message and the process's threads after;
- from starting the process to its first getUpdates (both starts of a round);
- and once a round, `tandem ask "What time is it?"` (a template answer, no key): wall time and
  CPU of the whole command, ASKS times;
- the share of a core the process takes while idle, over IDLE_SECONDS after the warm-up;
- the journal's records (DBOS steps) for each answered message of the one chat: two
  transactions each (is it recorded? record it), a figure the load does not move.

The machine may be shared: each figure notes the load average (1 minute) over its rounds, and
the journal's cost is a ratio of rounds run side by side, which the load shifts less than the
absolute figures. After the rounds, one more durable pass of the one-chat messages is profiled
with py-spy (who held the GIL). Run: .venv/bin/python -m bench.lightness
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    TANDEM,
    Bot,
    Figure,
    Latency,
    Upstreams,
    figures_table,
    load_average,
    percentile,
    scratch,
    tandem_run,
    upstreams,
    write_config,
)
from bench.profiling import cpu_seconds, gil_profile, shares

ROUNDS = 3
MESSAGES = 40
WARM_UP = 3
CHATS = 100
SINGLES = 3
ASKS = 3
IDLE_SECONDS = 5.0
ONE_CALL = "What's on Saturday?"
BURST = "Will it rain at my tennis match?"
SLOW = Latency(model=1.0, weather=0.2, calendar=0.2)
VARIANTS = {True: "journal on", False: "journal off"}

ONE_CHAT, ALONE = 1, 2
FIRST_BURST_CHAT = 1000
USERS = [ONE_CHAT, ALONE, *range(FIRST_BURST_CHAT, FIRST_BURST_CHAT + CHATS)]


@dataclass
class Seen:
    """Every round's readings, by figure name, with the load average at each."""

    values: dict[str, list[float]]
    loads: dict[str, list[float]]

    def add(self, name: str, value: float) -> None:
        self.values[name].append(value)
        self.loads[name].append(float(load_average().split()[0]))

    def figure(self, name: str, unit: str, target: str = "", limit: float | None = None) -> Figure:
        loads = self.loads[name]
        found = Figure(name, self.values[name], unit, target, note=_load_note(loads))
        if limit is not None:
            found.met = found.median <= limit
        return found


def _load_note(loads: Sequence[float]) -> str:
    return f"load {min(loads):.1f}–{max(loads):.1f}" if loads else ""


def journal_records(folder: Path) -> float | None:
    """The steps the journal recorded for each message answered (None without a journal: the
    journal-off process leaves its file empty)."""
    path = folder / "data" / "runs.sqlite3"
    if not path.exists():
        return None
    runs = "workflow_uuid LIKE 'telegram-%'"
    with contextlib.closing(sqlite3.connect(path)) as db:
        try:
            [(answered,)] = db.execute(f"SELECT COUNT(*) FROM workflow_status WHERE {runs}")
            [(steps,)] = db.execute(f"SELECT COUNT(*) FROM operation_outputs WHERE {runs}")
        except sqlite3.OperationalError:  # no such table
            return None
    return steps / answered if answered else None


def one_chat(bot: Bot, seen: Seen, label: str) -> None:
    for _ in range(WARM_UP):
        bot.ask([(ONE_CHAT, ONE_CALL)])
    cpu = cpu_seconds(bot.process.pid)
    time.sleep(IDLE_SECONDS)
    seen.add(f"CPU while idle ({label})", (cpu_seconds(bot.process.pid) - cpu) / IDLE_SECONDS)
    cpu, latencies = cpu_seconds(bot.process.pid), []
    for _ in range(MESSAGES):
        latencies.append(bot.ask([(ONE_CHAT, ONE_CALL)])[0].reply)
    seen.add(f"CPU a message, one chat ({label})", (cpu_seconds(bot.process.pid) - cpu) / MESSAGES)
    seen.add(f"reply p50, one chat, model at once ({label})", percentile(latencies, 50))


def burst(bot: Bot, seen: Seen, label: str) -> None:
    bot.ask([(ALONE, BURST)])  # warm up
    alone = statistics.median(bot.ask([(ALONE, BURST)])[0].reply for _ in range(SINGLES))
    cpu = cpu_seconds(bot.process.pid)
    chats = range(FIRST_BURST_CHAT, FIRST_BURST_CHAT + CHATS)
    last = max(arrival.reply for arrival in bot.ask([(chat, BURST) for chat in chats]))
    seen.add(f"{CHATS} chats at once: last reply ÷ one alone ({label})", last / alone)
    seen.add(
        f"CPU a message, {CHATS} chats at once ({label})",
        (cpu_seconds(bot.process.pid) - cpu) / CHATS,
    )
    seen.add(f"threads after {CHATS} chats ({label})", bot.threads())


def ask(config: Path, seen: Seen) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "TELEGRAM_"))}
    for _ in range(ASKS):
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(TANDEM), "ask", "--config", str(config), "What time is it?"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        if status != 0:
            raise RuntimeError(f"tandem ask failed with status {status}")
        seen.add("tandem ask, template answer: wall", time.perf_counter() - started)
        seen.add("tandem ask, template answer: CPU", usage.ru_utime + usage.ru_stime)


def run_round(
    folder: Path, fast: Upstreams, slow: Upstreams, seen: Seen, order: list[bool]
) -> None:
    for durable in order:
        label = VARIANTS[durable]
        with tandem_run(folder / f"{label}-fast", fast, USERS, durable=durable) as bot:
            seen.add(f"start to first getUpdates ({label})", bot.started_in)
            one_chat(bot, seen, label)
        if (records := journal_records(folder / f"{label}-fast")) is not None:
            seen.add("journal records a message, one chat", records)
        # The burst's config takes on all its chats at once (`durable.runs_per_worker`, 20 by
        # default): the goal is about a hundred chats answered side by side, not in waves of 20.
        with tandem_run(
            folder / f"{label}-slow", slow, USERS, durable=durable, runs_at_once=CHATS
        ) as bot:
            seen.add(f"start to first getUpdates ({label})", bot.started_in)
            burst(bot, seen, label)


def ratios(seen: Seen, name: str) -> Figure:
    """Journal on ÷ off, round by round (the two were measured side by side)."""
    on, off = seen.values[f"{name} (journal on)"], seen.values[f"{name} (journal off)"]
    loads = seen.loads[f"{name} (journal on)"] + seen.loads[f"{name} (journal off)"]
    pairs = [a / b for a, b in zip(on, off, strict=True)]
    return Figure(f"{name}: on ÷ off", pairs, "×", note=_load_note(loads))


def figures(seen: Seen) -> list[Figure]:
    def both(name: str, unit: str, target: str = "", limit: float | None = None) -> list[Figure]:
        """The durable figure (with the goal, if any) and the journal-off one beside it."""
        return [
            seen.figure(f"{name} (journal on)", unit, target, limit),
            seen.figure(f"{name} (journal off)", unit),
        ]

    cpu = "CPU a message, one chat"
    ratio = ratios(seen, cpu)
    ratio.target, ratio.met = "≤ 1.25×", ratio.median <= 1.25
    reply = "reply p50, one chat, model at once"
    burst = f"CPU a message, {CHATS} chats at once"
    found = [
        *both(cpu, "ms", "≤ 35 ms", 0.035),
        ratio,
        *both(reply, "ms"),
        ratios(seen, reply),
        *both(f"{CHATS} chats at once: last reply ÷ one alone", "×", "≤ 1.5×", 1.5),
        *both(burst, "ms"),
        ratios(seen, burst),
        *both(f"threads after {CHATS} chats", ""),
        *both("CPU while idle", "%"),
        seen.figure("journal records a message, one chat", ""),
        *both("start to first getUpdates", "s", "≤ 1.5 s", 1.5),
        seen.figure("tandem ask, template answer: wall", "s", "≤ 0.5 s", 0.5),
        seen.figure("tandem ask, template answer: CPU", "s"),
    ]
    return [Figure(f"7. {f.name}", f.rounds, f.unit, f.target, f.met, f.note) for f in found]


def profile(folder: Path, fast: Upstreams) -> str:
    """One more durable pass of the one-chat messages, with py-spy watching the GIL."""
    with tandem_run(folder / "profiled", fast, USERS) as bot:
        for _ in range(WARM_UP):
            bot.ask([(ONE_CHAT, ONE_CALL)])
        cpu = cpu_seconds(bot.process.pid)
        with gil_profile(bot.process.pid, folder / "gil.raw"):
            for _ in range(MESSAGES):
                bot.ask([(ONE_CHAT, ONE_CALL)])
        each = (cpu_seconds(bot.process.pid) - cpu) / MESSAGES
    held = shares(folder / "gil.raw", each)
    return f"  journal on, one chat (a profiled pass): the GIL was held by:\n{held}"


def measure() -> tuple[list[Figure], str]:
    seen = Seen(defaultdict(list), defaultdict(list))
    with scratch() as folder, upstreams(Latency(), real_clock=True) as fast:
        with upstreams(SLOW, real_clock=True) as slow:
            for number in range(ROUNDS):
                order = [True, False] if number % 2 == 0 else [False, True]
                run_round(folder / f"round-{number}", fast, slow, seen, order)
                ask(write_config(folder / f"ask-{number}", fast), seen)
        detail = profile(folder, fast)
    return figures(seen), detail


def main() -> None:
    print(f"{ROUNDS} rounds, journal on and off alternating; load average {load_average()}")
    found, detail = measure()
    print(figures_table(found))
    print(detail)


if __name__ == "__main__":
    sys.exit(main())
