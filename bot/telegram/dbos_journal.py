"""The durable journal: each step a DBOS step, and each read recorded with the step after it.

A step (a model call, a message sent) is checkpointed on its own: after a crash the run
replays it from the journal instead of doing it again. A read (the chat's history and settings,
the person's allowance, a tool looking something up) has no effect outside, so it needs no
record of its own: its result goes into the record of the next step, which then holds
everything the run learnt since the step before. After a crash, a read whose
next step was recorded takes its result from that record, so the resumed run takes the same
path; one whose next step was not recorded is simply done again, as if the crash had come just
before it. Each step is two journal transactions (is it recorded? record it): a one-call answer
that read its chat and searched the calendar journals three steps instead of five.

An effect done once per run (the chat remembered: the store keeps the run's id with it, so
doing it again changes nothing) is recorded like a read, with the next step: a one-call answer
journals the model call and the message sent, two steps. It goes into a record of its own only
when reads not yet journaled came before it: done again after a crash, those reads would see
the effect already made and could take another path than the one it remembered.

What an earlier execution of a run recorded is loaded once, at the run's first read: a run
started afresh finds nothing there, and its later reads look nowhere else.
"""

from __future__ import annotations

import asyncio
import inspect
import pickle
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dbos import DBOS, StepOptions
from dbos._context import DBOSContext, get_local_dbos_context  # the run's step counter
from dbos._dbos import _get_dbos_instance
from dbos._error import DBOSWorkflowCancelledError

from bot.engine.journal import run_action


@dataclass(frozen=True)
class Outcome:
    """What an action gave: its value, or the exception it raised."""

    value: Any = None
    error: Exception | None = None

    def unwrap(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


@dataclass(frozen=True)
class Together:
    """A step's record with the reads taken since the step before, in the order they began."""

    reads: tuple[Outcome, ...]
    step: Outcome


@dataclass(frozen=True)
class _Recorded:
    """A step an earlier execution of the run recorded."""

    name: str
    output: Any
    error: Exception | None


@dataclass
class _Execution:
    """One execution of one run: its reads waiting for the next step, and what an earlier
    execution recorded after its first read (loaded then), by step id."""

    waiting: list[tuple[str, asyncio.Future[Outcome]]] = field(default_factory=list)
    # A future, not a task: a task would keep the run's context, and so this entry, alive.
    recorded: asyncio.Future[dict[int, _Recorded]] | None = None


class DbosJournal:
    """Steps checkpointed by DBOS, replayed instead of redone after a crash; reads recorded
    with the next step."""

    def __init__(self) -> None:
        # Keyed by the run's DBOS context: one object for a run's execution and its tasks.
        self._executions: weakref.WeakKeyDictionary[DBOSContext, _Execution] = (
            weakref.WeakKeyDictionary()
        )

    async def read(self, name: str, action: Callable[..., Any], *args: Any) -> Any:
        run = _running_run()
        if run is None:
            return await run_action(action, *args)
        execution = self._executions.setdefault(run, _Execution())
        outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        execution.waiting.append((name, outcome))
        try:
            recorded, result = await _recorded(run, execution, action, *args)
            if result is None:
                result = await _result(run, execution, recorded, name, outcome, action, *args)
        except BaseException:
            # Cancelled: nothing the run goes on with came from this read.
            execution.waiting = [entry for entry in execution.waiting if entry[1] is not outcome]
            raise
        outcome.set_result(result)
        return result.unwrap()

    async def once(self, name: str, action: Callable[..., Any], *args: Any) -> Any:
        run = _running_run()
        if run is None:
            return await run_action(action, None, *args)
        execution = self._executions.get(run)
        if execution is not None and execution.waiting:
            return await self.step(name, action, run.workflow_id, *args)
        return await self.read(name, action, run.workflow_id, *args)

    async def step(self, name: str, action: Callable[..., Any], *args: Any) -> Any:
        run = _running_run()
        execution = self._executions.get(run) if run is not None else None
        if execution is None or not execution.waiting:
            # A blocking action goes to a DBOS thread once, for its checkpoint check, itself and
            # its record (three trips between threads when it ran in a pool of its own).
            return await DBOS.run_step_async(StepOptions(name=name), action, *args)
        waiting, execution.waiting = execution.waiting, []
        reads = tuple([_recordable(await outcome) for _, outcome in waiting])
        # The record's name says what it holds; DBOS checks it when the run is replayed.
        named = f"{name}, with {', '.join(read for read, _ in waiting)}"
        recorded = await DBOS.run_step_async(StepOptions(name=named), _with(reads, action, *args))
        return recorded.step.unwrap()


def _running_run() -> DBOSContext | None:
    """The DBOS context of the run being answered here, if any (not inside a step)."""
    context = get_local_dbos_context()
    return context if context is not None and context.is_workflow() else None


async def _result(
    run: DBOSContext,
    execution: _Execution,
    recorded: dict[int, _Recorded],
    name: str,
    outcome: asyncio.Future[Outcome],
    action: Callable[..., Any],
    *args: Any,
) -> Outcome:
    """A read's result: from the record of the step after it, or read now."""
    position = next(n for n, (_, waiting) in enumerate(execution.waiting) if waiting is outcome)
    step_id = run.function_id + 1  # the step this read is recorded with
    found = recorded.get(step_id)
    if found is None:
        return await _outcome(action, *args)
    if isinstance(found.output, Together) and position < len(found.output.reads):
        return found.output.reads[position]
    if position == 0 and found.name == name:
        # Recorded as a step of its own, by a version of Tandem before reads were recorded
        # with the next step: taken as that step.
        run.function_id = step_id
        execution.waiting.pop(0)
        return Outcome(found.output, found.error)
    return await _outcome(action, *args)


def _with(reads: tuple[Outcome, ...], action: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """The step's action, giving its record: the reads and what the action gave. An action
    that raises is recorded as raising, as DBOS records it; the run is told once recorded."""
    if inspect.iscoroutinefunction(action):

        async def together() -> Together:
            return Together(reads, await _outcome(action, *args))

        return together

    def together_blocking() -> Together:  # run on a DBOS thread, with its checkpoints
        return Together(reads, _now(action, *args))

    return together_blocking


def _recordable(outcome: Outcome) -> Outcome:
    """The outcome as the journal can keep it. An error pickle cannot keep (one holding a
    connection, say) is kept as its type's name and message: it must not cost the step after
    it its record (a model call paid for, then made again)."""
    if outcome.error is None:
        return outcome
    try:
        pickle.dumps(outcome.error)
    except Exception:
        error = outcome.error
        return Outcome(error=RuntimeError(f"{type(error).__name__}: {error}"))
    return outcome


def _now(action: Callable[..., Any], *args: Any) -> Outcome:
    """What a blocking action gives, run here."""
    try:
        return Outcome(action(*args))
    except DBOSWorkflowCancelledError:
        raise  # DBOS records no outcome for a cancelled run
    except Exception as exc:
        return Outcome(error=exc)


async def _outcome(action: Callable[..., Any], *args: Any) -> Outcome:
    """What the action gives; a blocking one runs on DBOS's threads, as a blocking step does
    (sized for the runs taken on at once, bot/telegram/server.py), not on a pool beside them."""
    try:
        if inspect.iscoroutinefunction(action):
            return Outcome(await action(*args))
        await DBOS._configure_asyncio_thread_pool()  # what DBOS does before each of its steps
        return Outcome(await asyncio.to_thread(action, *args))
    except DBOSWorkflowCancelledError:
        raise
    except Exception as exc:
        return Outcome(error=exc)


async def _recorded(
    run: DBOSContext, execution: _Execution, action: Callable[..., Any], *args: Any
) -> tuple[dict[int, _Recorded], Outcome | None]:
    """What an earlier execution of the run recorded after its first read, loaded by that read.
    The first read, if blocking, is made on the same trip to a thread when nothing recorded
    says what it gave (a run started afresh); otherwise the outcome is None."""
    if execution.recorded is not None:
        return await asyncio.shield(execution.recorded), None
    after, workflow = run.function_id, run.workflow_id
    blocking = not inspect.iscoroutinefunction(action)

    def load() -> tuple[dict[int, _Recorded], Outcome | None]:
        # DBOS.list_workflow_steps called in a run is itself a step: its store is asked directly.
        steps = _get_dbos_instance()._sys_db.list_workflow_steps(workflow)
        recorded = {
            step["function_id"]: _Recorded(step["function_name"], step["output"], step["error"])
            for step in steps
            if step["function_id"] > after
        }
        return recorded, _now(action, *args) if blocking and after + 1 not in recorded else None

    loaded = execution.recorded = asyncio.get_running_loop().create_future()
    try:
        await DBOS._configure_asyncio_thread_pool()  # what DBOS does before each of its steps
        recorded, outcome = await asyncio.to_thread(load)
    except BaseException as exc:
        execution.recorded = None  # the next read tries again
        if isinstance(exc, Exception):
            loaded.set_exception(exc)  # for reads waiting on it
            loaded.exception()  # and not logged as never retrieved if none is
        else:
            loaded.cancel()
        raise
    loaded.set_result(recorded)
    return recorded, outcome
