"""7. A big calendar at a secret address, and one event that repeats every second.

The big one: EVENTS events (about 9 MB), ten years of a busy shared calendar — single meetings
with places and notes, all-day entries, and weekly, daily and monthly series with exceptions and
moved instances — served by the fake calendar server (tests/fakes/ics_server.py). Tandem's core
(`Assistant.handle`, workflow mode, no model) answers QUESTIONS.
The figures: the first answer (download, parse, expansion: the first load), then each later
answer, and the process's peak resident memory.

The second: the sample calendar plus one event with RRULE:FREQ=SECONDLY (anyone who can send an
invitation can put one there): the time and peak memory for one answer.

Each measurement runs in a fresh process, so the peak memory is that question's alone.
Run: .venv/bin/python -m bench.big_calendar
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml

from bench.common import EXAMPLE, NOW, Figure, figures_table, scratch
from tests.fakes import running

EVENTS = 40_000
ROUNDS = 3
QUESTIONS = (
    "what's on tomorrow?",
    "what's on next week?",
    "when is my next dentist appointment?",
    "what's on Saturday?",
    "when is the board review?",
    "what's on on 3 December?",
)
FIRST_YEAR = 2017
SAMPLE = EXAMPLE.parent / "sample-calendar.ics"
SECONDLY = """BEGIN:VEVENT
UID:every-second@attacker.example
DTSTAMP:20261101T000000Z
DTSTART:20261101T000000Z
DTEND:20261101T000001Z
RRULE:FREQ=SECONDLY
SUMMARY:Every second
END:VEVENT
"""
TOPICS = (
    "Budget review", "1:1 with Priya", "Design crit", "Dentist", "Board review", "Hiring panel",
    "Coffee with Sam", "Quarterly planning", "Vendor call", "Team lunch", "Yoga", "Standup",
)  # fmt: skip
PLACES = ("Room 2", "Online", "Dishoom King's Cross, London", "Smile Dental", "Regent's Park", "")
HEADER = SAMPLE.read_text().split("BEGIN:VEVENT", 1)[0]


def big_calendar(events: int = EVENTS, seed: int = 7) -> str:
    """`events` VEVENTs from FIRST_YEAR to the end of 2027: 1 in 100 a series (weekly, daily or
    monthly, some with an EXDATE and a moved instance), 1 in 30 all-day, the rest meetings."""
    pick = random.Random(seed)
    days = (date(2027, 12, 31) - date(FIRST_YEAR, 1, 1)).days
    parts = [HEADER]
    for number in range(events):
        day = date(FIRST_YEAR, 1, 1) + timedelta(days=pick.randrange(days))
        start = datetime(day.year, day.month, day.day, pick.randrange(8, 19), pick.choice((0, 30)))
        end = start + timedelta(minutes=pick.choice((30, 45, 60, 90)))
        topic, place = pick.choice(TOPICS), pick.choice(PLACES)
        lines = [
            "BEGIN:VEVENT",
            f"UID:event-{number}@big.tandem.example",
            "DTSTAMP:20260101T000000Z",
        ]
        if number % 30 == 1:
            lines += [f"DTSTART;VALUE=DATE:{day:%Y%m%d}", f"SUMMARY:{topic} (all day)"]
        else:
            lines += [
                f"DTSTART;TZID=Europe/London:{start:%Y%m%dT%H%M%S}",
                f"DTEND;TZID=Europe/London:{end:%Y%m%dT%H%M%S}",
                f"SUMMARY:{topic}",
            ]
        if place:
            lines.append(f"LOCATION:{place.replace(',', chr(92) + ',')}")
        if number % 3 == 0:
            lines.append(f"DESCRIPTION:Notes for {topic.lower()}: agenda\\, actions.")
        if number % 100 == 0:
            lines.append(pick.choice(("RRULE:FREQ=WEEKLY", "RRULE:FREQ=DAILY;COUNT=200",
                                      "RRULE:FREQ=MONTHLY;BYMONTHDAY=3")))  # fmt: skip
            skipped = start + timedelta(days=7)
            lines.append(f"EXDATE;TZID=Europe/London:{skipped:%Y%m%dT%H%M%S}")
        lines.append("END:VEVENT")
        if number % 100 == 0:  # the series' second week, an hour later
            moved = start + timedelta(days=14)
            lines += [
                "BEGIN:VEVENT",
                f"UID:event-{number}@big.tandem.example",
                "DTSTAMP:20260101T000000Z",
                f"RECURRENCE-ID;TZID=Europe/London:{moved:%Y%m%dT%H%M%S}",
                f"DTSTART;TZID=Europe/London:{moved + timedelta(hours=1):%Y%m%dT%H%M%S}",
                f"DTEND;TZID=Europe/London:{end + timedelta(days=14, hours=1):%Y%m%dT%H%M%S}",
                f"SUMMARY:{topic} (moved)",
                "END:VEVENT",
            ]
        parts.append("\r\n".join(lines) + "\r\n")
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts)


def with_secondly() -> str:
    return SAMPLE.read_text().replace("END:VCALENDAR", SECONDLY + "END:VCALENDAR")


# --- the measuring process ------------------------------------------------------------------------


async def answer_all(config: Path, questions: list[str]) -> list[dict[str, object]]:
    from bot.config import load_config
    from bot.messages import Incoming
    from bot.tools import TOOLS
    from bot.wiring import build

    core = build(load_config(config, known_tools=TOOLS.names()), None, clock=lambda: NOW)
    answers = []
    for number, question in enumerate(questions):
        began = time.perf_counter()
        reply = await core.handle(Incoming(number + 1, number + 1, question))
        answers.append(
            {"question": question, "seconds": time.perf_counter() - began, "reply": reply.text}
        )
    return answers


def measured(config: Path, questions: list[str]) -> tuple[list[dict[str, object]], float]:
    """The answers (with their times) from a fresh process, and its peak resident memory in MB."""
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.big_calendar", "--answer", str(config), *questions],
            stdout=output,
            text=True,
        )
        _, status, usage = os.wait4(process.pid, 0)  # reaps it, with what it used
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        return json.loads(output.read()), usage.ru_maxrss / 1024


def config_for(folder: Path, address: str) -> Path:
    settings = yaml.safe_load(EXAMPLE.read_text())
    settings["calendars"] = [{"type": "ics", "name": "big", "url": address}]
    settings["memory"]["data_dir"] = str(folder / "data")
    settings["limits"]["messages_per_minute"] = 1_000_000
    config = folder / "tandem.yaml"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    return config


def measure() -> tuple[list[Figure], str]:
    loads, per_question, peaks, secondly_times, secondly_peaks = [], [], [], [], []
    details = []
    with scratch() as folder:
        big, dense = folder / "big.ics", folder / "secondly.ics"
        big.write_text(big_calendar())
        dense.write_text(with_secondly())
        details.append(f"    the big calendar: {big.stat().st_size / 1e6:.1f} MB, {EVENTS} events")
        with running("tests.fakes.ics_server", "--file", str(big)) as served:
            config = config_for(folder, f"{served}/big.ics")
            for _ in range(ROUNDS):
                answers, peak = measured(config, list(QUESTIONS))
                loads.append(float(answers[0]["seconds"]))
                per_question.append(max(float(a["seconds"]) for a in answers[1:]))
                peaks.append(peak)
        details += [f"    {a['question']:<40} {float(a['seconds']):7.3f} s" for a in answers]
        with running("tests.fakes.ics_server", "--file", str(dense)) as served:
            config = config_for(folder, f"{served}/secondly.ics")
            for _ in range(ROUNDS):
                answers, peak = measured(config, ["what's on tomorrow?"])
                secondly_times.append(float(answers[0]["seconds"]))
                secondly_peaks.append(peak)
        reply = str(answers[0]["reply"]).replace("\n", "\n      ")
        details.append(f"    the FREQ=SECONDLY calendar answered:\n      {reply}")
    figures = [
        Figure("7. big calendar: first answer (download, parse)", loads, "s", "a few s"),
        Figure("7. big calendar: slowest later answer", per_question, "s", "≤ 1 s"),
        Figure("7. big calendar: peak memory", peaks, "MB", "bounded"),
        Figure("7. FREQ=SECONDLY event: one answer", secondly_times, "s", "≤ 2 s"),
        Figure("7. FREQ=SECONDLY event: peak memory", secondly_peaks, "MB", "bounded"),
    ]
    figures[1].met = figures[1].median <= 1.0
    figures[3].met = figures[3].median <= 2.0
    return figures, "\n".join(details)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answer", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("questions", nargs="*", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.answer:  # the measuring process
        print(json.dumps(asyncio.run(answer_all(arguments.answer, arguments.questions))))
        return
    figures, detail = measure()
    print(figures_table(figures))
    print(detail)


if __name__ == "__main__":
    main()
