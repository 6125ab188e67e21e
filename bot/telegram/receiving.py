"""Whether Tandem is receiving Telegram updates, and how far behind it is.

The receive loop (bot/telegram/server.py) never ends on an error: every failure is logged (the
log is redacted, see bot/redaction.py), noted here, and the same action is tried again after a
growing wait. `Health` is what it has seen; each worker keeps a copy in the data folder
(`receiving-<worker>.json`) that `tandem status` reads, and in webhook mode GET /healthz shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from telegram.error import RetryAfter

from bot.store.private import FILE_MODE
from bot.telegram.outbox import retry_seconds

log = logging.getLogger(__name__)

T = TypeVar("T")

POLL_SECONDS = 30  # Telegram's long poll: an idle bot makes one request per half minute
# A poll answers within POLL_SECONDS; one this much older means the loop is stuck or gone.
STALE_SECONDS = 3 * POLL_SECONDS
STATUS_FILE = "receiving-{worker}.json"
STATUS_EVERY_SECONDS = 2.0  # how often a worker rewrites its status file
# A status file this old: its worker stopped, is stuck, or cannot write (a full disk).
STATUS_STALE_SECONDS = 10.0


@dataclass(frozen=True)
class Backoff:
    """Waits between tries: doubling from `first` up to `cap`, each with jitter."""

    first: float = 1.0
    cap: float = 60.0

    def seconds(self, failures: int) -> float:
        return min(self.cap, self.first * 2.0 ** (failures - 1)) * random.uniform(0.5, 1.0)


@dataclass
class Health:
    """What the receive loop has seen, in epoch seconds."""

    worker: str
    mode: str  # "polling" or "webhook"
    started: float = field(default_factory=time.time)
    listening: bool = False  # polling: the webhook is deleted; webhook: it is set and served
    last_poll: float | None = None  # polling: the last getUpdates sent or answered
    last_stored: float | None = None  # the last update stored as a run
    stored: int = 0  # updates stored since the start
    failing: dict[str, str] = field(default_factory=dict)  # what fails now -> its error
    failing_since: float | None = None

    def failed(self, what: str, error: BaseException) -> None:
        self.failing[what] = f"{type(error).__name__}: {error}"
        self.failing_since = self.failing_since or time.time()

    def recovered(self, what: str) -> None:
        self.failing.pop(what, None)
        if not self.failing:
            self.failing_since = None

    def polled(self) -> None:
        self.last_poll = time.time()

    def stored_updates(self, count: int) -> None:
        self.stored += count
        self.last_stored = time.time()

    def receiving(self, now: float) -> bool:
        if self.failing or not self.listening:
            return False
        if self.mode == "webhook":
            return True  # Telegram calls when there is something: silence is not a fault
        return self.last_poll is not None and now - self.last_poll < STALE_SECONDS

    def report(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {**asdict(self), "receiving": self.receiving(now), "written": now}


async def retrying(
    what: str, action: Callable[[], Awaitable[T]], health: Health, backoff: Backoff
) -> T:
    """`action()` until it succeeds: each failure logged, noted in `health`, and waited out.

    Telegram's flood control (RetryAfter) is waited exactly as long as it asks.
    """
    failures = 0
    while True:
        try:
            result = await action()
        except RetryAfter as exc:
            wait = retry_seconds(exc)
            log.warning("Telegram asks to wait %.0f s before trying to %s again", wait, what)
        except Exception as exc:
            failures += 1
            health.failed(what, exc)
            wait = backoff.seconds(failures)
            log.error(
                "Could not %s (%s: %s); trying again in %.1f s (failure %d)",
                what,
                type(exc).__name__,
                exc,
                wait,
                failures,
            )
        else:
            if failures:
                log.warning("Could %s again after %d failure(s)", what, failures)
            health.recovered(what)
            return result
        await asyncio.sleep(wait)


def write_status(folder: Path, health: Health) -> None:
    """Keep `health` where `tandem status` finds it; a full disk only makes it stale."""
    path = folder / STATUS_FILE.format(worker=health.worker)
    partial = path.with_name(path.name + ".partial")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(descriptor, "w") as out:
            json.dump(health.report(), out)
        os.replace(partial, path)
    except OSError as exc:
        log.debug("Could not write %s: %s", path, exc)
        with contextlib.suppress(OSError):
            partial.unlink()


def read_statuses(folder: Path) -> list[dict[str, Any]]:
    """Every worker's last written health in `folder`, by worker name."""
    found = []
    for path in sorted(folder.glob(STATUS_FILE.format(worker="*"))):
        with contextlib.suppress(OSError, ValueError):
            found.append(json.loads(path.read_text()))
    return found
