"""What a durable run reads, and an effect it does once per run (the chat remembered), is
journaled with the step after it (bot/telegram/dbos_journal.py).

The real DBOS journal on a SQLite file in this process. A run resumed after a crash is made the
way DBOS makes one: `fork_workflow` starts the run again with the steps before a given one taken
from the journal, as recovery does with every step that was recorded before the crash. An
effect done once per run is keyed by the run's id, which a fork changes: those runs are cut
short in the journal as a kill -9 leaves them and recovered under their own id, as on a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sqlite3
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
    remembering = 0  # times a run set about remembering its answer
    remembered: ClassVar[dict[str | None, str]] = {}  # what each run remembered, kept once
    remembering_is_a_step = False  # as Tandem journaled it before it was done once per run


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


def remember(run: str | None, answer: str) -> None:
    """As the store remembers an answer: once per run (bot/store/__init__.py)."""
    World.remembering += 1
    World.remembered.setdefault(run, answer)


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


@DBOS.workflow()
async def pay_remember_send() -> None:
    """A one-call answer: the chat read, the model paid, the chat remembered, the reply sent."""
    answer = await JOURNAL.step("pay", pay, await JOURNAL.read("look", look))
    if World.remembering_is_a_step:
        await JOURNAL.step("remember", remember, None, answer)
    else:
        await JOURNAL.once("remember", remember, answer)
    await JOURNAL.step("send", send, answer)


@DBOS.workflow()
async def read_remember_send() -> None:
    """A template answer: nothing paid for between reading the chat and remembering."""
    answer = f"template for {await JOURNAL.read('look', look)}"
    await JOURNAL.once("remember", remember, answer)
    await JOURNAL.step("send", send, answer)


WORKER = "test"


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Path]:
    World.latest, World.paid, World.sent, World.reads_are_steps = "first words", [], [], False
    World.remembering, World.remembered, World.remembering_is_a_step = 0, {}, False
    path = tmp_path / "runs.sqlite3"
    DBOS(config=journal_config(f"sqlite:///{path}", WORKER, 4))
    DBOS.launch()
    try:
        yield path
    finally:
        DBOS.destroy(workflow_completion_timeout_sec=0)


async def killed_before_step(journal: Path, run: str, step: int) -> None:
    """The run as a kill -9 leaves it: still pending, its steps from `step` on not recorded;
    then recovered as a restarted worker recovers it, under its own id, to its end."""
    with contextlib.closing(sqlite3.connect(journal)) as db, db:
        db.execute(
            "DELETE FROM operation_outputs WHERE workflow_uuid = ? AND function_id >= ?",
            (run, step),
        )
        db.execute("UPDATE workflow_status SET status = 'PENDING' WHERE workflow_uuid = ?", (run,))
    [handle] = DBOS._recover_pending_workflows([WORKER])
    await asyncio.to_thread(handle.get_result)


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


async def test_the_chat_remembered_is_journaled_with_the_message_sent_after_it(journal):
    with SetWorkflowID("run-1"):
        await pay_remember_send()

    steps = await DBOS.list_workflow_steps_async("run-1")
    assert [step["function_name"] for step in steps] == ["pay, with look", "send, with remember"]
    assert World.remembered == {"run-1": "answer to first words"}


async def test_a_run_killed_after_remembering_before_sending_remembers_once_and_sends_once(
    journal,
):
    with SetWorkflowID("run-1"):
        await pay_remember_send()
    World.sent, World.latest = [], "words written since"  # killed before the message went out

    await killed_before_step(journal, "run-1", SECOND_STEP)

    assert World.paid == ["first words"]  # the paid call and what it read: from the journal
    assert World.remembering == 2  # done again, as its record never came ...
    assert World.remembered == {"run-1": "answer to first words"}  # ... changing nothing
    assert World.sent == ["answer to first words"]


async def test_a_run_killed_once_its_message_is_recorded_does_not_remember_again(journal):
    with SetWorkflowID("run-1"):
        await pay_remember_send()

    await killed_before_step(journal, "run-1", SECOND_STEP + 1)  # the run's end not recorded

    assert (World.remembering, World.sent) == (1, ["answer to first words"])


async def test_remembering_after_reads_not_yet_journaled_is_a_step_of_its_own(journal):
    # Redone after a crash, the read would find the answer already remembered: the two are
    # recorded together, before anything is sent.
    with SetWorkflowID("run-1"):
        await read_remember_send()
    steps = await DBOS.list_workflow_steps_async("run-1")
    assert [step["function_name"] for step in steps] == ["remember, with look", "send"]
    World.sent, World.latest = [], "words written since"

    await killed_before_step(journal, "run-1", SECOND_STEP)

    assert World.remembering == 1
    assert World.remembered == {"run-1": "template for first words"}
    assert World.sent == ["template for first words"]


async def test_a_run_the_version_before_left_after_remembering_resumes_there(journal):
    World.remembering_is_a_step = True
    with SetWorkflowID("run-1"):
        await pay_remember_send()
    World.remembering_is_a_step, World.sent = False, []

    await killed_before_step(journal, "run-1", SECOND_STEP + 1)  # "remember" recorded, no send

    assert World.remembering == 1  # taken from its record
    assert World.sent == ["answer to first words"]
