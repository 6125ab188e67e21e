"""What a burst of messages must not grow: the threads blocking steps run on, the stores'
database connections, the per-chat notes kept in memory. Nothing here is timed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

from bot.config import DurableSettings, LimitSettings
from bot.messages import Incoming
from bot.store import DATA_FILE, open_stores
from bot.store.memory import Turn
from bot.telegram.arrivals import Arrivals
from tests.conftest import HANG_SECONDS, CountingCalendar, at, event, example_without

RUNS_AT_ONCE = 3
CHATS = 12


class HeldCalendar(CountingCalendar):
    """Holds every search until released, noting how many were inside at once, on which threads."""

    def __init__(self) -> None:
        super().__init__([event("Parkrun", at(28, 9), location="Hampstead Heath, London")])
        self.release = threading.Event()
        self.inside = self.most_inside = 0
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def events(self, start, end):
        with self._lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
            self.threads.add(threading.get_ident())
        try:
            self.release.wait(HANG_SECONDS)
            return super().events(start, end)
        finally:
            with self._lock:
                self.inside -= 1


async def test_a_burst_waits_for_as_many_threads_as_runs_taken_on_at_once(make_assistant):
    config = example_without(
        durable=DurableSettings(runs_per_worker=RUNS_AT_ONCE),
        limits=LimitSettings(messages_per_minute=1000),
    )
    calendar = HeldCalendar()
    assistant = make_assistant(calendar, config=config)
    chats = range(100, 100 + CHATS)
    asked = asyncio.gather(
        *(assistant.handle(Incoming(chat, chat, "What's on Saturday?")) for chat in chats)
    )
    async with asyncio.timeout(HANG_SECONDS):  # bounds a hang only
        while calendar.inside < RUNS_AT_ONCE:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # room for any search beyond the bound to start (none may)
    calendar.release.set()
    replies = await asked

    assert all("Parkrun" in reply.text for reply in replies)
    assert calendar.calls == CHATS
    assert calendar.most_inside == RUNS_AT_ONCE
    assert len(calendar.threads) <= RUNS_AT_ONCE


def test_the_stores_keep_one_sqlite_connection_however_many_threads_use_them(tmp_path: Path):
    stores = open_stores(tmp_path, example_without().settings)
    start = threading.Barrier(20, timeout=HANG_SECONDS)

    def chat(number: int) -> None:
        start.wait()
        for turn in range(10):
            stores.memory.remember(number, Turn("user", f"question {turn}"))
            stores.memory.recent(number)

    threads = [threading.Thread(target=chat, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_SECONDS)

    assert all(len(stores.memory.recent(n)) == 10 for n in range(20))
    assert open_files().count(str(tmp_path / DATA_FILE)) == 1


def open_files() -> list[str]:
    """What this process has open (Linux)."""
    folder = Path("/proc/self/fd")
    found = []
    for fd in os.listdir(folder):
        try:
            found.append(os.readlink(folder / fd))
        except FileNotFoundError:  # the listing's own descriptor, closed already
            continue
    return found


def test_arrivals_remember_only_the_chats_heard_from_last():
    arrivals = Arrivals(kept=3)
    for chat in range(10):
        arrivals.noted(chat, message_id=5)

    # The three heard from last are kept; the others are forgotten, as if nothing came since.
    assert [chat for chat in range(10) if arrivals.wrote_since(chat, 4)] == [7, 8, 9]


def test_a_step_stuck_in_a_thread_does_not_keep_a_stopping_bot_alive() -> None:
    # A thread that never returns (a service that stopped answering) would keep the process
    # alive after SIGTERM: once stopping has taken too long, the bot exits anyway, saying where
    # each thread was.
    stuck = (
        "import threading\n"
        "from bot.telegram.server import _exit_if_stuck\n"
        "threading.Thread(target=threading.Event().wait).start()\n"
        "_exit_if_stuck(0.2)\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", stuck], capture_output=True, text=True, timeout=HANG_SECONDS
    )
    assert finished.returncode == 0, finished.stderr
    assert "exiting now" in finished.stderr
    assert "Thread 0x" in finished.stderr  # each thread's stack, for whoever reads the log
