"""Where a process's time goes: its CPU seconds, and py-spy's samples of who holds the GIL.

Python code runs one thread at a time (the GIL), so under load the GIL is what answers queue
for. `gil_profile` samples only the thread holding it (`py-spy record --gil`) and `attribute`
sorts the samples into the parts of Tandem and its libraries, by the innermost frame that
belongs to one of them (a calendar sample by whether it parses or expands). py-spy comes with
the `bench` extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PY_SPY = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")

# (part, path fragments of its frames), most specific first.
PARTS = [
    (
        "calendar: expanding repeats for a search",
        ("icalendar/", "recurring_ical_events/", "integrations/calendar/", "bot/calendars.py"),
    ),
    ("DBOS journal (SQLAlchemy, SQLite)", ("dbos/", "sqlalchemy/")),
    ("python-telegram-bot and its httpx", ("telegram/", "httpx/", "httpcore/")),
    ("Claude client (anthropic, httpx2)", ("anthropic/", "httpx2/", "httpcore2/")),
    ("requests/urllib3 (weather, calendar fetch)", ("requests/", "urllib3/", "http/client.py")),
    ("speech (pyttsx3, soxr, soundfile)", ("pyttsx3/", "soxr/", "soundfile", "speech.py")),
    ("chat memory, allowances (SQLite)", ("bot/store/",)),
    ("understanding the question", ("bot/understanding.py", "dateparser/")),
    ("other Tandem code", ("bot/", "integrations/")),
    ("asyncio and threads", ("asyncio/", "concurrent/futures/", "threading.py", "anyio/")),
]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def gil_profile(pid: int, output: Path) -> Iterator[None]:
    """Sample the GIL holder of process `pid` while the block runs (nothing without py-spy)."""
    if PY_SPY is None:
        yield
        return
    spy = subprocess.Popen(
        [
            PY_SPY,
            "record",
            "--gil",
            "--rate",
            "250",
            "--format",
            "raw",
            "--output",
            str(output),
            "--pid",
            str(pid),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        spy.wait(30)


def attribute(raw: Path) -> list[tuple[str, float]]:
    """Each part's share of the samples in a py-spy raw file (collapsed stacks), largest first."""
    if not raw.exists():
        return []
    samples: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        part = _part(stack.split(";"))
        if part.startswith("calendar") and "IcsCalendarSource._parse" in stack:
            part = "calendar: parsing the fetched .ics"
        samples[part] += int(count)
    total = sum(samples.values()) or 1
    return [(part, count / total) for part, count in samples.most_common()]


def _part(frames: list[str]) -> str:
    """The part of the innermost frame that belongs to one, looking through asyncio and thread
    frames to the library that called them (to Tandem's own code only if they are not its)."""
    plumbing = None
    for frame in reversed(frames):
        part = next((p for p, fragments in PARTS if any(f in frame for f in fragments)), None)
        if part == "asyncio and threads":
            plumbing = part
        elif part is not None:
            return plumbing if plumbing and part == "other Tandem code" else part
    return plumbing or "other"


def shares(raw: Path, cpu_per_message: float | None = None) -> str:
    """The attribution as lines: each part's share of the GIL (and so many ms a message)."""
    lines = []
    for part, share in attribute(raw):
        if share < 0.005:
            continue
        each = ""
        if cpu_per_message:
            each = f"  ~{share * cpu_per_message * 1000:5.1f} ms a message"
        lines.append(f"    {share * 100:5.1f}%{each}  {part}")
    return "\n".join(lines) or "    (no profile: install py-spy with pip install -e '.[bench]')"
