"""Facebook's Duckling (through `pyduckling-native-phihos`), loaded on first use.

Loading takes about 0.1 s and 35 MB (most of it Duckling's code, paged in as it parses), so a
process that never reads a time phrase (agent mode, `tandem check-config`) never pays for it.
Duckling is only ever given wall-clock time as UTC (see `find_times`), so it loads the UTC zone
alone, from the `tzdata` package (a bare machine has no /usr/share/zoneinfo): the whole zone
database would add 14 MB and 0.2 s for zones it is never asked about.
"""

from __future__ import annotations

import contextlib
import ctypes
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

# English locales Duckling knows: their holidays and their numeric date order.
LOCALES = {"AU", "BZ", "CA", "GB", "IE", "IN", "JM", "NZ", "PH", "TT", "US", "ZA"}
_lock = threading.Lock()
WINDOW, STRIDE = 8, 3  # words Duckling reads at once, and how far each window moves on
MAX_WORDS = 48  # a time phrase further into a long message is not looked for
# The signals whose handlers Haskell's runtime replaces when it starts, and room for one
# `struct sigaction` (152 bytes on Linux, less on macOS), kept as it is and put back.
RUNTIME_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGPIPE)
SIGACTION_BYTES = 512


@dataclass(frozen=True)
class Found:
    """One time expression Duckling found."""

    body: str
    start: int  # character offsets in the text given
    end: int
    value: dict[str, Any]  # Duckling's value: {"type": "value"|"interval", ...}


@cache
def _loaded() -> tuple[Any, Any]:
    import tzdata

    with _signal_handlers_kept():  # Haskell's runtime starts as the module is loaded
        import duckling

        duckling.init()
    with tempfile.TemporaryDirectory(prefix="tandem-zones-") as folder:
        # Duckling reads every zone file in a folder; it keeps what it read.
        shutil.copy(Path(tzdata.__file__).parent / "zoneinfo" / "UTC", folder)
        zones = duckling.load_time_zones(folder)
    return duckling, zones


@contextlib.contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    """Put back the signal handlers that Haskell's runtime replaces as it starts: with its own,
    Ctrl-C ended Tandem at once mid-answer ("interrupted", exit status 1), skipping Python's
    clean-up and `tandem run`'s graceful stop. `sigaction` works from any thread, and Duckling
    is loaded in whichever asks first."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # no C library to ask: nothing can be kept
        yield
        return
    saved = {}
    for signum in RUNTIME_SIGNALS:
        handler = ctypes.create_string_buffer(SIGACTION_BYTES)
        if libc.sigaction(signum, None, handler) == 0:
            saved[signum] = handler
    try:
        yield
    finally:
        for signum, handler in saved.items():
            libc.sigaction(signum, handler, None)


@cache  # one per country Duckling knows, and one for the rest
def _settings(country: str) -> tuple[Any, Any]:
    """The locale and the dimension asked for, made once: every value Duckling's bridge makes
    stays in its memory for good (about 200 bytes each; a parse leaves about 400)."""
    duckling, _ = _loaded()
    language = duckling.default_locale_lang(duckling.parse_lang("EN"))
    locale = duckling.parse_locale(f"EN_{country}", language) if country in LOCALES else language
    return locale, duckling.parse_dimensions(["time"])


def find_times(text: str, now: datetime, country: str) -> list[Found]:
    """Every time expression in `text`, read against `now` in the user's country.

    Duckling is given the user's wall-clock time as if it were UTC, and its answers are read
    back as wall-clock times: its own time zone rules put wrong offsets on some dates (New York
    in early March, London in July), so it never converts anything.

    Duckling's work grows steeply with the time words in one string (sixteen weekday names in
    a row take it 40 s), so it reads overlapping windows of a few words, over the first words of
    the message only: a time phrase of up to WINDOW - STRIDE + 1 words is always whole in one.
    """
    wall_clock = int(now.replace(tzinfo=UTC).timestamp())
    # The Rust bridge panics on NUL and cannot encode lone surrogates: one character for one,
    # so the offsets found still point into the caller's text.
    text = re.sub(r"[\x00-\x1f]", " ", text).encode("utf-8", "replace").decode("utf-8")
    words = [match.span() for match in re.finditer(r"\S+", text)][:MAX_WORDS]
    found: dict[tuple[int, int], Found] = {}
    with _lock:  # the Haskell runtime is shared; parses are ~1 ms, so one at a time is fine
        duckling, zones = _loaded()
        locale, dimensions = _settings(country)
        reference = duckling.parse_ref_time(zones, "UTC", wall_clock)
        context = duckling.Context(reference, locale)
        for first in range(0, max(1, len(words) - WINDOW + STRIDE), STRIDE):
            window = words[first : first + WINDOW]
            if not window:
                break
            offset = window[0][0]
            piece = text[offset : window[-1][1]]
            for item in duckling.parse(piece, context, dimensions, False):
                span = (offset + item["start"], offset + item["end"])
                found[span] = Found(item["body"], *span, item["value"])
        # A phrase longer than a window is found in overlapping parts ("on Tuesday at a quarter
        # past eight" and "a quarter past eight in the morning"): read the two together too.
        for start, end in _overlaps(list(found)):
            for item in duckling.parse(text[start:end], context, dimensions, False):
                span = (start + item["start"], start + item["end"])
                found[span] = Found(item["body"], *span, item["value"])
    return list(found.values())


def _overlaps(spans: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """The spans two findings cover together where they overlap without one holding the other."""
    return {
        (min(a[0], b[0]), max(a[1], b[1]))
        for a in spans
        for b in spans
        if a[0] < b[0] < a[1] < b[1]
    }
