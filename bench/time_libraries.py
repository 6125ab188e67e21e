"""Time-phrase libraries compared on tests/data/time_phrases.yaml: accuracy, speed, memory.

Each library runs in its own process (so import time and memory are its own) over the same
112 phrases, asked on the table's fixed clock, through the thinnest fair adapter: a date alone
is that whole day, a date and time is a moment, a range is a window; weeks and months from
Duckling are their whole span. "tandem" is Tandem's own reading (Duckling plus its pre-pass and
fill-ins, bot/understanding/). Needs the bench extra (dateparser, timefhuman).

  .venv/bin/python -m bench.time_libraries
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bench.common import Figure, figures_table

TABLE = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "tests" / "data" / "time_phrases.yaml").read_text()
)
ZONE = ZoneInfo(TABLE["timezone"])
NOW = datetime.fromisoformat(str(TABLE["now"])).replace(tzinfo=ZONE)
LIBRARIES = ("tandem", "duckling", "timefhuman", "dateparser")
REPEATS = 3
Reading = tuple[datetime, datetime | None] | None  # (start, end) or (moment, None)


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def _day(moment: datetime) -> Reading:
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=ZONE)
    return (start, start + timedelta(days=1))


def _point(moment: datetime) -> Reading:
    moment = moment.replace(tzinfo=ZONE, second=0, microsecond=0)
    return _day(moment) if (moment.hour, moment.minute) == (0, 0) else (moment, None)


def tandem() -> Callable[[str], Reading]:
    from bot.understanding import understand

    def read(phrase: str) -> Reading:
        question = understand(phrase, NOW)
        if question.moment is not None:
            return (question.moment, None)
        return (question.window.start, question.window.end) if question.window else None

    return read


def duckling() -> Callable[[str], Reading]:
    from bot.understanding.duckling import find_times

    def wall(value: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(value["value"]).replace(tzinfo=ZONE)

    def read(phrase: str) -> Reading:
        found = find_times(phrase, NOW, "GB")
        if not found:
            return None
        value = max(found, key=lambda item: item.end - item.start).value
        if value["type"] == "interval":
            if "from" not in value or "to" not in value:
                return None
            return (wall(value["from"]), wall(value["to"]))
        grain, moment = value.get("grain"), wall(value)
        if grain == "week":
            return (moment, moment + timedelta(days=7))
        if grain == "month":
            return (moment, (moment + timedelta(days=32)).replace(day=1))
        return _day(moment) if grain == "day" else (moment, None)

    return read


def timefhuman() -> Callable[[str], Reading]:
    from timefhuman import tfhConfig
    from timefhuman import timefhuman as parse

    config = tfhConfig(now=NOW.replace(tzinfo=None))

    def read(phrase: str) -> Reading:
        found = parse(phrase, config=config)
        if not found:
            return None
        first = found[0]
        if isinstance(first, tuple):
            return (first[0].replace(tzinfo=ZONE), first[1].replace(tzinfo=ZONE))
        return _point(first) if isinstance(first, datetime) else None

    return read


def dateparser() -> Callable[[str], Reading]:
    from dateparser.search import search_dates

    settings = {"RELATIVE_BASE": NOW.replace(tzinfo=None), "PREFER_DATES_FROM": "future"}

    def read(phrase: str) -> Reading:
        found = search_dates(phrase, languages=["en"], settings=settings)
        return _point(found[0][1]) if found else None

    return read


def expected(start: object, end: object) -> Reading:
    def local(text: object) -> datetime:
        value = str(text)
        return datetime.fromisoformat(value if "T" in value else f"{value}T00:00").replace(
            tzinfo=ZONE
        )

    return (local(start), None) if end == "at" else (local(start), local(end))


def measure_one(name: str) -> dict[str, Any]:
    """Import, load and run one library over the table, in this process."""
    before = _rss_mb()
    began = time.perf_counter()
    read = globals()[name]()
    read("tomorrow")  # Duckling and dateparser load their grammars on the first parse
    loaded = time.perf_counter() - began
    right, seconds = 0, []
    for phrase, start, end in TABLE["phrases"]:
        for _ in range(REPEATS):
            began = time.perf_counter()
            try:
                got = read(phrase)
            except Exception:  # a library that fails on a phrase gets it wrong
                got = None
            seconds.append(time.perf_counter() - began)
        right += got == expected(start, end)
    return {
        "right": right,
        "total": len(TABLE["phrases"]),
        "ms": statistics.median(seconds) * 1000,
        "p95_ms": statistics.quantiles(seconds, n=20)[-1] * 1000,
        "load_s": loaded,
        "mb": _rss_mb() - before,
    }


def measure() -> tuple[list[Figure], str]:
    results = {}
    for name in LIBRARIES:
        output = subprocess.run(
            [sys.executable, "-m", "bench.time_libraries", "--one", name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results[name] = json.loads(output.splitlines()[-1])
    figures = [
        Figure(f"{name}: phrases read right (of {r['total']})", [r["right"]], "")
        for name, r in results.items()
    ]
    figures += [
        Figure(f"{name}: time per parse", [r["ms"] / 1000], "ms") for name, r in results.items()
    ]
    figures += [
        Figure(f"{name}: import and first parse", [r["load_s"]], "s") for name, r in results.items()
    ]
    figures += [
        Figure(f"{name}: resident memory added", [r["mb"]], "MB") for name, r in results.items()
    ]
    return figures, ""


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure_one(sys.argv[2])))
        return
    figures, _ = measure()
    print(figures_table(figures))


if __name__ == "__main__":
    main()
