"""What a durable run reads is journaled with the step after it (bot/telegram/dbos_journal.py).

The real DBOS journal on a SQLite file in this process. A run resumed after a crash is made the
way DBOS makes one: `fork_workflow` starts the run again with the steps before a given one taken
from the journal, as recovery does with every step that was recorded before the crash.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from dbos import DBOS, SetWorkflowID

from bot.telegram.dbos_journal import DbosJournal
from bot.telegram.server import journal_config

JOURNAL = DbosJournal()
SECOND_STEP = 2  # DBOS numbers a run's steps from 1


class World:
    """What the run reads (a chat's latest words) and what it does (calls paid, sent)."""

    latest = "first words"
    paid: ClassVar[list[str]] = []
    sent: ClassVar[list[str]] = []
    reads_are_steps = False  # as Tandem journaled them before reads were recorded with a step


def look() -> str:
    return World.latest


def unreadable() -> str:
    raise LookupError("the calendar is away")


class Unpicklable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.connection = threading.Lock()  # what a client's error may hold: pickle refuses it


def unreadable_with_a_connection() -> str:
    raise Unpicklable("the weather service is away")


def pay(words: str) -> str:
    World.paid.append(words)
    return f"answer to {words}"


async def send(text: str) -> None:
    World.sent.append(text)


@DBOS.workflow()
async def reads_and_steps() -> tuple[str, str, str]:
    first = await (JOURNAL.step if World.reads_are_steps else JOURNAL.read)("look", look)
    answer = await JOURNAL.step("pay", pay, first)
    try:
        await JOURNAL.read("look where nothing is", unreadable)
        failed = ""
    except LookupError as exc:
        failed = str(exc)
    second = await JOURNAL.read("look again", look)
    await JOURNAL.step("send", send, f"{answer} / {second}")
    return first, second, failed


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[None]:
    World.latest, World.paid, World.sent, World.reads_are_steps = "first words", [], [], False
    DBOS(config=journal_config(f"sqlite:///{tmp_path / 'runs.sqlite3'}", "test", 4))
    DBOS.launch()
    try:
        yield
    finally:
        DBOS.destroy(workflow_completion_timeout_sec=0)


async def test_reads_are_journaled_with_the_next_step_not_as_steps_of_their_own(journal):
    with SetWorkflowID("run-1"):
        first, second, failed = await reads_and_steps()

    steps = await DBOS.list_workflow_steps_async("run-1")
    assert [step["function_name"] for step in steps] == [
        "pay, with look",
        "send, with look where nothing is, look again",
    ]
    assert (first, second, failed) == ("first words", "first words", "the calendar is away")
    assert World.sent == ["answer to first words / first words"]


async def test_a_resumed_run_reads_what_it_read_before_its_last_recorded_step(journal):
    with SetWorkflowID("run-1"):
        await reads_and_steps()
    World.latest = "words written since"

    # Resumed after the first step: its read comes from the journal, the paid call is not
    # made again; the reads after it were never recorded, so they are read again.
    resumed = await DBOS.fork_workflow_async("run-1", SECOND_STEP)
    first, second, failed = await resumed.get_result()

    assert (first, second, failed) == ("first words", "words written since", "the calendar is away")
    assert World.paid == ["first words"]
    assert World.sent[-1] == "answer to first words / words written since"


async def test_a_run_resumed_before_any_step_reads_afresh(journal):
    with SetWorkflowID("run-1"):
        await reads_and_steps()
    World.latest = "words written since"

    resumed = await DBOS.fork_workflow_async("run-1", 1)
    first, second, _ = await resumed.get_result()

    assert (first, second) == ("words written since", "words written since")
    assert World.paid == ["first words", "words written since"]


async def test_a_run_left_unfinished_by_the_version_before_resumes_where_it_was(journal):
    World.reads_are_steps = True
    with SetWorkflowID("run-1"):
        await reads_and_steps()
    World.reads_are_steps, World.latest = False, "words written since"

    # Stopped after the paid call, its read a step of its own: both are taken from the journal.
    resumed = await DBOS.fork_workflow_async("run-1", 3)
    first, second, _ = await resumed.get_result()

    assert (first, second) == ("first words", "words written since")
    assert World.paid == ["first words"]


async def test_the_journal_keeps_nothing_of_runs_once_they_are_done(journal):
    for number in range(20):
        with SetWorkflowID(f"run-{number}"):
            await reads_and_steps()
    gc.collect()

    # At most the last run's: its context may still be this test's own.
    assert len(JOURNAL._executions) <= 1


@DBOS.workflow()
async def an_odd_failure_then_a_paid_call() -> str:
    try:
        await JOURNAL.read("look at the weather", unreadable_with_a_connection)
        failed = ""
    except Exception as exc:  # as a run takes a tool's failure (bot/engine/run.py)
        failed = str(exc)
    return await JOURNAL.step("pay", pay, failed)


async def test_a_read_failing_in_a_way_the_journal_cannot_keep_leaves_the_next_step_recorded(
    journal,
):
    with SetWorkflowID("run-1"):
        answer = await an_odd_failure_then_a_paid_call()

    resumed = await DBOS.fork_workflow_async("run-1", SECOND_STEP)

    assert answer == await resumed.get_result() == "answer to the weather service is away"
    assert World.paid == ["the weather service is away"]  # recorded: not paid again
