"""Each chat's runs one at a time, in the order they came, on a worker that runs every chat.

With one worker on its own journal (SQLite), a run starts at once instead of waiting in DBOS's
per-chat queue, whose polling and extra journal writes were about half of what the journal cost
a message. The order the queue kept is kept here: the receiver announces each run it started,
in the order Telegram sent them, and a run waits for its chat's earlier runs before answering.
Runs that a crash left unfinished are announced first, oldest first, before anything new
arrives. However a run ends, even before it reached its turn, its chat's next run goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ChatTurns:
    """Runs of a chat in the order announced; at most `at_once` runs answering at once."""

    def __init__(self, at_once: int) -> None:
        self._lines: dict[str, list[str]] = {}  # chat -> its runs not finished, in order
        self._woken: dict[str, asyncio.Event] = {}  # run -> set once it is first in its line
        self._at_once = asyncio.Semaphore(at_once)
        self._ready = asyncio.Event()  # the unfinished runs from before are announced

    def announce(self, chat: str, run: str) -> None:
        """A run of `chat` that will answer here, after those announced before it."""
        line = self._lines.setdefault(chat, [])
        if run not in line:
            line.append(run)

    def ready(self) -> None:
        """Every run left unfinished by the last stop is announced: runs may start."""
        self._ready.set()

    @asynccontextmanager
    async def turn(self, chat: str, run: str) -> AsyncIterator[None]:
        """Wait for the chat's earlier runs (and a free place), answer, then let the next go."""
        await self._ready.wait()
        self.announce(chat, run)  # a run nobody announced goes last
        try:
            if self._lines[chat][0] != run:
                await self._woken.setdefault(run, asyncio.Event()).wait()
            async with self._at_once:
                yield
        finally:
            self.finished(chat, run)

    def finished(self, chat: str, run: str) -> None:
        """The run is over (or will never answer here): the chat's next run may go."""
        self._woken.pop(run, None)
        line = self._lines.get(chat, [])
        if run not in line:
            return
        line.remove(run)
        if not line:
            del self._lines[chat]
            return
        self._woken.setdefault(line[0], asyncio.Event()).set()
