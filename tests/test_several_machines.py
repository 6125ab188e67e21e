"""Several machines for real (issue 13): a receiver and three workers on one PostgreSQL
database (TANDEM_TEST_POSTGRES_URL; skipped, saying why, where no server answers), each with a
data folder of its own, as on separate machines.

The receiver polls the fake Bot API and only stores each update as a run; the workers only run
them (agent mode against the fake Messages API, slowed to 0.5 s a call). A burst of updates from
many chats arrives at once; one worker is killed with kill -9 while it holds runs and is never
restarted. Then, as a user would check:

- every update is answered exactly once, and each chat's answers come in the order it asked
  (the fake model sees each chat's questions one after another);
- history continues across workers: each question reaches the model with the chat's earlier
  answers, whichever worker gave them;
- a person over their message rate is refused, whichever worker takes the message;
- a person paired (with a code from `tandem pair` on yet another machine) is recognised by
  whichever worker takes their next messages;
- the dead worker's runs were taken over by the live ones.

The counts are printed (`pytest -s tests/test_several_machines.py`). The size is kept modest for
a busy 2-core machine (20 chats, 3 questions each, plus the rate and pairing chats); the
benchmark (bench/several.py) sends 200 updates from 50 chats.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bot.telegram.handlers import REFUSAL
from tests.test_durability import (
    TANDEM,
    config_for,
    environment,
    explain,
    fakes,  # noqa: F401 (a fixture)
    launch,
    runs_by_worker,
    texts,
    updates_of,
)
from tests.test_end_to_end import Tandem

T = TypeVar("T")

WORKERS = ("w1", "w2", "w3")
VICTIM = "w1"
CHATS, QUESTIONS = 20, 3
FIRST_CHAT = 501
RATE_CHAT, RATE_SENT = 601, 5  # sends two more than QUESTIONS, the rate per minute
STRANGER = 701
TAKEOVER_SECONDS = 12  # beats every 2 s: a busy machine may delay one or two
# Only a guard against a hang (then the logs are shown): the test waits on conditions.
GIVE_UP_SECONDS = 300.0


def wait_for(condition: Callable[[], T], what: str, *bots: Tandem, database: str = "") -> T:
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            for bot in bots:
                bot.show_threads()
            story = explain(*bots) + journal_now(database)
            raise AssertionError(f"gave up waiting for {what}{story}")
        time.sleep(0.1)


def journal_now(database: str) -> str:
    """The runs not finished yet and what the database's sessions wait on, for a failure."""
    if not database:
        return ""
    import psycopg

    with psycopg.connect(database) as db:
        runs = db.execute(
            "SELECT workflow_uuid, status, executor_id, queue_partition_key, updated_at "
            "FROM dbos.workflow_status WHERE status <> 'SUCCESS' ORDER BY workflow_uuid"
        ).fetchall()
        sessions = db.execute(
            "SELECT state, wait_event_type, wait_event, count(*) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' GROUP BY 1, 2, 3"
        ).fetchall()
    lines = [f"\n--- unfinished runs: {len(runs)} ---", *map(str, runs)]
    return "\n".join([*lines, "--- database sessions ---", *map(str, sessions)])


def question(chat: int, number: int) -> str:
    return f"what's on tomorrow? (chat {chat}, question {number})"


def asked(call: dict[str, Any]) -> tuple[int, int] | None:
    """The chat and question number a model call is about."""
    found = re.search(r"\(chat (\d+), question (\d+)\)", call.get("question") or "")
    return (int(found[1]), int(found[2])) if found else None


def pending_on(database: str, worker: str) -> list[str]:
    return [
        run
        for run, (status, by) in runs_by_worker(database).items()
        if status == "PENDING" and by == worker
    ]


def heartbeats(database: str) -> set[str]:
    import psycopg

    with psycopg.connect(database) as db:
        rows = db.execute("SELECT worker FROM tandem.worker_heartbeats").fetchall()
    return {worker for (worker,) in rows}


def pairing_code(folder: Path, config: Path, database: str) -> str:
    """`tandem pair` on the owner's machine, against the shared database."""
    folder.mkdir()
    printed = subprocess.run(
        [TANDEM or "tandem", "pair", "--config", str(config), "--database", database],
        cwd=folder,
        env=environment(folder),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"Pairing code: (\w+)", printed)
    assert found, printed
    return found[1]


def test_three_workers_lose_nothing_when_one_dies_for_good(tmp_path, fakes, postgres):  # noqa: F811
    chats = [FIRST_CHAT + n for n in range(CHATS)]
    config = config_for(tmp_path, fakes, [*chats, RATE_CHAT], mode="agent")
    settings = yaml.safe_load(config.read_text())
    settings["durable"]["takeover_seconds"] = TAKEOVER_SECONDS
    settings["limits"]["messages_per_minute"] = QUESTIONS
    config.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    code = pairing_code(tmp_path / "owner", config, postgres)

    def machine(name: str, role: str) -> Tandem:
        folder = tmp_path / name  # a data folder of its own, as on another machine
        folder.mkdir()
        arguments = ("--role", role, "--worker", name, "--database", postgres)
        return launch(folder, config, fakes, *arguments, claude=True)

    workers = {name: machine(name, "worker") for name in WORKERS}
    receiver = machine("receiver", "receiver")
    everyone = [receiver, *workers.values()]
    try:
        wait_for(lambda: heartbeats(postgres) >= set(WORKERS), "the workers to beat", *everyone)
        wait_for(lambda: fakes.telegram.state()["get_updates_calls"] > 0, "the receiver", *everyone)
        burst = [
            {"user_id": chat, "text": question(chat, number)}
            for number in range(1, QUESTIONS + 1)
            for chat in chats
        ]
        burst += [{"user_id": RATE_CHAT, "text": "what's on tomorrow?"}] * RATE_SENT
        burst += [{"user_id": STRANGER, "text": f"/pair {code}"}]
        burst += [{"user_id": STRANGER, "text": question(STRANGER, n)} for n in (1, 2)]
        update_ids = fakes.telegram.messages_at_once(burst)

        orphaned = wait_for(lambda: pending_on(postgres, VICTIM), "w1 to hold runs", *everyone)
        workers[VICTIM].kill()  # kill -9, never restarted
        live = [bot for name, bot in workers.items() if name != VICTIM]

        expected = {chat: QUESTIONS for chat in chats} | {RATE_CHAT: RATE_SENT, STRANGER: 3}
        wait_for(
            lambda: all(len(fakes.telegram.sent(chat)) >= n for chat, n in expected.items()),
            "every update's answer",
            receiver,
            *live,
            database=postgres,
        )
        runs = wait_for(
            lambda: (
                len(found := runs_by_worker(postgres)) == len(burst)
                and all(status == "SUCCESS" for status, _ in found.values())
                and found
            ),
            "every run to finish",
            receiver,
            *live,
            database=postgres,
        )
    finally:
        for bot in everyone:
            if bot.process.poll() is None:
                bot.terminate()

    answers = {chat: texts(fakes.telegram.sent(chat)) for chat in expected}
    done_by = {name: sum(by == name for _, by in runs.values()) for name in WORKERS}
    taken_over = {run: runs[run][1] for run in orphaned}
    by_update = {int(run.split("-")[2]): by for run, (_, by) in runs.items()}
    stranger_runs = [by_update[update] for update in update_ids[-3:]]
    calls = fakes.model_calls()
    print(
        f"\nseveral machines: {len(burst)} updates from {len(expected)} chats, "
        f"{sum(map(len, answers.values()))} answers; runs by worker {done_by}; "
        f"{len(orphaned)} run(s) held by {VICTIM} when killed, finished by {taken_over}; "
        f"the stranger paired on {stranger_runs[0]}, then answered by {stranger_runs[1:]}"
    )
    # Exactly once: as many messages as updates, in every chat, and one run per update.
    assert {chat: len(sent) for chat, sent in answers.items()} == expected, answers
    assert len(updates_of(runs)) == len(runs) == len(burst)
    assert set(taken_over.values()) <= {"w2", "w3"}, taken_over
    assert any("took over" in bot.log() for bot in live), explain(*live)

    # In order, with the history so far: each chat's questions reach the model one after
    # another, and the first call for question k already holds the k - 1 answers before it.
    for chat in [*chats, STRANGER]:
        mine = [(about[1], call) for call in calls if (about := asked(call)) and about[0] == chat]
        numbers = [number for number, _ in mine]
        assert numbers == sorted(numbers) and set(numbers) >= {1, 2}, (chat, numbers)
        for number in set(numbers):
            first = next(call for n, call in mine if n == number)
            assert first["turn"] == number - 1, (chat, number, first)

    # The rate: three answered, the next two refused, whoever took them (the five are stored
    # at once and answered within seconds: one minute's window).
    rate = answers[RATE_CHAT]
    refused = [text.startswith(f"That's more than {QUESTIONS} messages") for text in rate]
    assert refused == [False] * QUESTIONS + [True] * (RATE_SENT - QUESTIONS), rate

    # The paired stranger: welcomed, then answered (not refused) by whichever worker.
    assert answers[STRANGER][0].startswith("Paired: welcome"), answers[STRANGER]
    assert REFUSAL.format(user_id=STRANGER) not in answers[STRANGER]
    assert all("Traceback" not in bot.log() for bot in [receiver, *live]), explain(*everyone)
