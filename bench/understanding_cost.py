"""What understanding a question costs: time per question through the core, memory, `tandem ask`.

Every question of the phrasing tables (tests/data/phrasings-*.yaml) is asked through Tandem's
core in this process, as `tandem ask` asks it, on the tables' fixed clocks and fixture
calendars (read from files), without a model: the time is Tandem's own work per question
(understanding, search, answer), p50 and p95 over all rows. Memory is the process's resident
size once everything is loaded. `tandem ask` is the real command, start to finish, as a
person runs it (a new process each time: Python, Tandem's imports, Duckling's first load).

  .venv/bin/python -m bench.understanding_cost
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import TANDEM, Figure, figures_table
from bot.core import Assistant
from bot.messages import Incoming
from bot.tools.calendar_search import understand_for
from tests.phrasings import TABLES, Row, assistant_for, load_table

ROUNDS = 3
ASKS = 3


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


async def ask_all(assistant: Assistant, rows: list[Row]) -> tuple[list[float], list[float]]:
    """Each question's time through the core, and its understanding's alone."""
    answering, understanding = [], []
    for round_ in range(ROUNDS):
        for index, row in enumerate(rows):
            chat = 1000 * round_ + index
            began = time.perf_counter()
            await assistant.handle(Incoming(chat, chat, row.question))
            answering.append(time.perf_counter() - began)
            began = time.perf_counter()
            understand_for(assistant.context, row.question)
            understanding.append(time.perf_counter() - began)
    return answering, understanding


def measure() -> tuple[list[Figure], str]:
    before = _rss_mb()
    seconds: list[float] = []
    understanding: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        for path in TABLES:
            table, rows = load_table(path)
            assistant = assistant_for(table, Path(folder) / path.stem)
            answered, understood = asyncio.run(ask_all(assistant, rows))
            seconds += answered
            understanding += understood
        loaded = _rss_mb()
        whole = []
        for _ in range(ASKS):
            began = time.perf_counter()
            subprocess.run(
                [str(TANDEM), "ask", "what's on tomorrow?"],
                cwd=folder,
                env={"TANDEM_DATA_DIR": folder, "PATH": str(TANDEM.parent)},
                capture_output=True,
                check=True,
            )
            whole.append(time.perf_counter() - began)
    p95 = statistics.quantiles(seconds, n=20)[-1]
    figures = [
        Figure("time per question through the core: p50", [statistics.median(seconds)], "ms"),
        Figure("time per question through the core: p95", [p95], "ms"),
        Figure("understanding alone: p50", [statistics.median(understanding)], "ms"),
        Figure("understanding alone: p95", [statistics.quantiles(understanding, n=20)[-1]], "ms"),
        Figure("resident memory, core and Duckling loaded", [loaded], "MB"),
        Figure("resident memory added by asking", [loaded - before], "MB"),
        Figure("`tandem ask` start to finish", whole, "s"),
    ]
    return figures, f"{len(seconds)} questions asked"


def main() -> None:
    figures, detail = measure()
    print(figures_table(figures))
    print(detail)


if __name__ == "__main__":
    main()
