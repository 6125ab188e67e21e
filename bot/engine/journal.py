"""Steps that a run journals, so that a crashed run resumes after its last finished step.

The core runs every side effect and every paid-for call (a model call, sending) through
`journal.step`, an effect it can make harmless to repeat (the chat remembered) through
`journal.once`, and everything it reads that may change (the chat, an allowance, a tool's
lookup) through `journal.read`. Run plainly, all just run. Inside a durable run
(bot/telegram/dbos_journal.py) a step is checkpointed, and after a crash and restart the run
replays finished steps from the checkpoint instead of doing them again; a read, and an effect
done once per run, is recorded with the step after it, so that a resumed run takes the same
path at the cost of no record of its own.
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

    async def read(self, name: str, action: Callable[..., Any], *args: Any) -> Any:
        """Run `action(*args)`, which has no effect outside (doing it twice is harmless)."""
        ...

    async def once(self, name: str, action: Callable[..., Any], *args: Any) -> Any:
        """Run `action(run, *args)`, an effect that `run` (the durable run's id, None outside
        one) makes idempotent: done again for the same run, it changes nothing."""
        ...


# Runs one process takes on at once, unless the config says otherwise (`durable.runs_per_worker`).
RUNS_AT_ONCE = 20
_steps: tuple[int, ThreadPoolExecutor] | None = None  # the pool blocking steps run on, and its size


def step_threads(threads: int) -> ThreadPoolExecutor:
    """The pool blocking steps (calendar, weather, the stores) run on: `threads` threads, the
    runs taken on at once, since a run waits on one blocking step at a time but for the few
    it runs side by side. A burst of messages then queues runs, not threads. A new size
    replaces the pool; steps already on the old one finish there."""
    global _steps
    if _steps is not None and _steps[0] == threads:
        return _steps[1]
    if _steps is not None:
        _steps[1].shutdown(wait=False)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="tandem-step")
    _steps = (threads, pool)
    return pool


async def run_action(action: Callable[..., Awaitable[T] | T], *args: Any) -> T:
    if inspect.iscoroutinefunction(action):
        return await action(*args)
    call = functools.partial(action, *args)
    pool = _steps[1] if _steps is not None else step_threads(RUNS_AT_ONCE)
    return await asyncio.get_running_loop().run_in_executor(pool, call)  # type: ignore[arg-type]


class Immediate:
    """No journal: each step simply runs (tests, `tandem ask`, the terminal chat)."""

    async def step(self, name: str, action: Callable[..., Any], *args: Any) -> Any:
        return await run_action(action, *args)

    async def read(self, name: str, action: Callable[..., Any], *args: Any) -> Any:
        return await run_action(action, *args)

    async def once(self, name: str, action: Callable[..., Any], *args: Any) -> Any:
        return await run_action(action, None, *args)
