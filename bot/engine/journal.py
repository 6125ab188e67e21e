"""Steps that a run journals, so that a crashed run resumes after its last finished step.

The core runs every side effect and every paid-for call (a tool, a model call, remembering,
sending) through `journal.step`. Run plainly, a step just runs. Inside a durable run
(bot/telegram/server.py) it is a DBOS step: its result is checkpointed, and after a crash and
restart the run replays finished steps from the checkpoint instead of doing them again.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Journal(Protocol):
    async def step(self, name: str, action: Callable[..., Any], *args: Any) -> Any:
        """Run `action(*args)` (a coroutine function, or a blocking one run off the loop)."""
        ...


# Blocking tools (calendar, weather) mostly wait on the network: with asyncio's default pool
# (cores + 4 threads) a hundred chats at once queued behind six of them.
STEP_THREADS = 64
_WAITING = ThreadPoolExecutor(max_workers=STEP_THREADS, thread_name_prefix="tandem-step")


async def run_action(action: Callable[..., Awaitable[T] | T], *args: Any) -> T:
    if inspect.iscoroutinefunction(action):
        return await action(*args)
    call = functools.partial(action, *args)
    return await asyncio.get_running_loop().run_in_executor(_WAITING, call)  # type: ignore[arg-type]


class Immediate:
    """No journal: each step simply runs (tests, `tandem ask`, the terminal chat)."""

    async def step(self, name: str, action: Callable[..., Any], *args: Any) -> Any:
        return await run_action(action, *args)
