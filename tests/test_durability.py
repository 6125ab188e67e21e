"""Durable runs under crashes: the real `tandem run` killed mid-answer, updates seen twice, and
two webhook workers sharing PostgreSQL.

Every Telegram update is a DBOS workflow and every model call and message sent is a journaled
step, a tool call journaled with the model call after it (bot/telegram/server.py,
bot/telegram/dbos_journal.py). These tests check what that
promises, against the fake Bot API, the fake Messages API (a scripted tool-using Claude, slowed
to 0.5 s a call so a call can be caught in flight) and the fake Open-Meteo, all local processes:

- kill -9 at a different point of an agent's answer each round, then restart with the same data
  folder and worker name: every question is answered exactly once, no model call that was
  answered is made again, every run finishes, and each chat's history holds its question and
  answer once, its usage counted once (the chat is remembered once per run, recorded in the
  journal with the message sent after it). The figures are printed as a table (`pytest
  -s tests/test_durability.py` shows it).
- an update Telegram sends again (its confirmation lost in the crash) is answered once.
- two webhook workers on one PostgreSQL database, each update POSTed to one of them and every
  third to both: one answer per update, whichever worker takes it from the shared per-chat
  queue (in a burst, the first to look may take them all; the table shows who did). A wrong secret
  token gets 403 and no run.
- a scheduled slot, killed mid-answer and after it, is sent once.

The kill points are chosen where the outcome does not depend on timing: while a model or tool
call is on its way (the fakes hold their answers), or once the journal holds a step. Two
windows of a few milliseconds are left out on purpose, not hidden: a step's effect has happened
but its result is not journaled yet. Killed there, recovery does the step again: a message
Telegram had taken is sent twice (Telegram has no idempotency key), a model call that was
answered is paid for twice. Measured by killing as soon as the fake saw the effect: 20 of 40
replies were sent twice, and 24 of 30 answered model calls made again. A crash at a random
moment rarely lands there; one that does is at-least-once, never lost.

PostgreSQL comes from TANDEM_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test);
each run gets a database of its own, dropped afterwards. Without a server the test is skipped.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.telegram.handlers import REFUSAL
from bot.telegram.server import webhook_secret
from tests.conftest import HANG_SECONDS
from tests.fakes import running, untouched_environment
from tests.test_end_to_end import (
    BARRIER,
    LOCAL,
    SCHEDULE_CHAT,
    TANDEM,
    TOKEN,
    FakeTelegram,
    Tandem,
    fail_next_sends,
    faults_served,
    texts,
    write_config,
)

QUESTION = "will it rain at my tennis match?"
MODEL_DELAY, WEATHER_DELAY = "0.5", "0.1"  # seconds each fake holds an answer
WAIT_SECONDS = HANG_SECONDS  # only bounds a hang: a busy machine makes waits slower, not failed

T = TypeVar("T")


def wait_for(condition: Callable[[], T], what: str, *bots: Tandem) -> T:
    """Poll `condition` until it is truthy; fail with the bots' logs if one stops or time runs
    out."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        result = condition()
        if result:
            return result
        stopped = [bot for bot in bots if bot.process.poll() is not None]
        if stopped or time.monotonic() > deadline:
            why = "tandem stopped" if stopped else f"waited {WAIT_SECONDS} s"
            raise AssertionError(f"{why} while waiting for {what}{explain(*bots)}")
        time.sleep(0.005)


def explain(*bots: Tandem) -> str:
    return "".join(bot.explain() for bot in bots)


def get_json(url: str) -> Any:
    with LOCAL.open(url, timeout=5) as response:
        return json.load(response)


# --- the world: fakes, config, the bot process, its journal --------------------------------------


class Telegram(FakeTelegram):
    def resend(self, update_id: int) -> None:
        """Queue an update again, as Telegram does when the bot's confirmation never came."""
        self._call("resend", {"update_id": update_id})


@dataclass
class Fakes:
    telegram: Telegram
    claude: str  # the fake Messages API's base URL
    meteo: str  # the fake Open-Meteo's base URL

    def model_calls(self) -> list[dict[str, Any]]:
        return list(get_json(f"{self.claude}/_test/calls")["calls"])

    def hold_model_call(self, number: int) -> None:
        """The `number`th model call from now (0: the next) is held until its caller is killed:
        a kill "while a call is on its way" then lands there on a machine of any load."""
        changes = [{}] * number + [{"hold": True}]
        request = urllib.request.Request(
            f"{self.claude}/_test/script",
            data=json.dumps({"next": changes}).encode(),
            headers={"content-type": "application/json"},
        )
        with LOCAL.open(request, timeout=5) as response:
            response.read()

    def weather_calls(self) -> list[dict[str, Any]]:
        return list(get_json(f"{self.meteo}/_test/calls")["calls"])

    def hold_send(self) -> None:
        """The next message sent is held, unanswered, until its sender is killed."""
        fail_next_sends(self.telegram, {"kind": "stall", "seconds": WAIT_SECONDS})

    def sends_held(self) -> int:
        return faults_served(self.telegram)


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with (
        running("tests.fakes.telegram_server", "--token", TOKEN) as telegram,
        running("tests.fakes.anthropic_server", "--delay", MODEL_DELAY) as claude,
        running("tests.fakes.open_meteo_server", "--delay", WEATHER_DELAY) as meteo,
    ):
        yield Fakes(Telegram(telegram), claude, meteo)
        # Whatever was killed and resumed, Claude was never sent a request the API rejects.
        assert get_json(f"{claude}/_test/rejections")["rejections"] == []


def config_for(folder: Path, fakes: Fakes, users: list[int], mode: str) -> Path:
    """The end-to-end tests' config, in `mode`, for `users`, with the weather at the fake."""
    path = write_config(folder / "tandem.yaml", fakes.telegram)
    settings = yaml.safe_load(path.read_text())
    settings["mode"] = mode
    settings["telegram"]["allowed_user_ids"] = users
    settings["weather"].update(
        forecast_url=f"{fakes.meteo}/v1/forecast",
        geocoding_url=f"{fakes.meteo}/v1/search",
        cache_minutes=0,  # every weather tool call asks the fake, so it can be caught on its way
    )
    path.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    return path


def environment(folder: Path) -> dict[str, str]:
    """Tandem's environment: the bot token, the data folder, nothing from the caller's."""
    env = untouched_environment()
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TANDEM_DATA_DIR=str(folder / "data"),
        NO_PROXY="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    return env


def launch(folder: Path, config: Path, fakes: Fakes, *arguments: str, claude: bool) -> Tandem:
    """`tandem run` with a token (and, if `claude`, a key for the fake Messages API)."""
    env = environment(folder)
    if claude:
        env.update(ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=fakes.claude)
    worker = arguments[arguments.index("--worker") + 1]
    log = folder / f"tandem-{worker}.log"
    with log.open("ab") as output:  # appended to across restarts: the whole story on failure
        process = subprocess.Popen(
            [TANDEM or "tandem", "run", "--config", str(config), *arguments],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Tandem(process, log)


def start_polling(folder: Path, config: Path, fakes: Fakes) -> Tandem:
    """The bot polling the fake as worker "solo"; returns once it asks for updates."""
    polls = fakes.telegram.state()["get_updates_calls"]
    bot = launch(folder, config, fakes, "--worker", "solo", claude=True)
    wait_for(lambda: fakes.telegram.state()["get_updates_calls"] > polls, "the bot to poll", bot)
    return bot


class Database:
    """A SQLite file in the data folder, read as the bot writes it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _rows(self, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
        if not self.path.exists():
            return []
        try:
            with contextlib.closing(sqlite3.connect(self.path, timeout=2)) as db:
                return db.execute(sql, parameters).fetchall()
        except sqlite3.Error:  # being written, or a kill left it mid-transaction: ask again
            return []


class Store(Database):
    """What the bot keeps of each chat (bot/store/), in the data folder's SQLite file."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder / "data" / "tandem.sqlite3")

    def remembered(self, update_id: int) -> bool:
        """The update's run remembered its answer."""
        return bool(self._rows("SELECT 1 FROM remembered WHERE run LIKE ?", run_id(update_id)))

    def turns(self, chat: int) -> list[tuple[str, str]]:
        rows = self._rows("SELECT role, text FROM turns WHERE chat_id = ? ORDER BY id", str(chat))
        return [(role, text) for role, text in rows]

    def messages_counted(self, user_id: int) -> int:
        rows = self._rows("SELECT SUM(messages) FROM daily_usage WHERE user_id = ?", user_id)
        return int(rows[0][0] or 0) if rows else 0


class Journal(Database):
    """What DBOS recorded in the data folder's SQLite journal, read as the bot writes it."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder / "data" / "runs.sqlite3")

    def status(self, update_id: int) -> str | None:
        rows = self._rows(
            "SELECT status FROM workflow_status WHERE workflow_uuid LIKE ?", run_id(update_id)
        )
        return rows[0][0] if rows else None

    def runs(self, prefix: str) -> dict[str, str]:
        """Every run whose id starts with `prefix`, and its status."""
        rows = self._rows(
            "SELECT workflow_uuid, status FROM workflow_status WHERE workflow_uuid LIKE ?",
            f"{prefix}%",
        )
        return dict(rows)

    def steps(self, update_id: int) -> list[tuple[str, float]]:
        """The run's finished steps in order: (name, when it finished, in epoch seconds)."""
        rows = self._rows(
            "SELECT function_name, completed_at_epoch_ms FROM operation_outputs "
            "WHERE workflow_uuid LIKE ? ORDER BY function_id",
            run_id(update_id),
        )
        return [(name, (done or 0) / 1000) for name, done in rows]


def run_id(update_id: int) -> str:
    """The update's run id as a LIKE pattern: bot id, update id, digest of its message."""
    return f"telegram-%-{update_id:020d}-%"


# --- kill -9 at a different point each round -----------------------------------------------------


@dataclass
class Round:
    """One question in its own chat, and what the fakes and the journal saw of its answer."""

    fakes: Fakes
    journal: Journal
    store: Store
    chat: int
    question: str
    update_id: int = 0

    def model_calls(self) -> list[dict[str, Any]]:
        return [call for call in self.fakes.model_calls() if call["question"] == self.question]

    def in_flight(self, turn: int) -> bool:
        """Model call number `turn` (0 is the first) was sent and is not answered yet."""
        return any(c["turn"] == turn and not c["answered"] for c in self.model_calls())

    def journaled(self, step: str) -> bool:
        """The journal holds `step`: in a record of its own, or in the next step's (a read)."""
        return any(step in name for name, _ in self.journal.steps(self.update_id))

    def weather_in_flight(self) -> bool:
        """The weather tool is asking Open-Meteo: after the second model call, before its end."""
        steps = self.journal.steps(self.update_id)
        chats = [done for name, done in steps if name.startswith("chat ")]
        if len(chats) != 2 or any("tool weather_forecast" in name for name, _ in steps):
            return False
        return any(call["at"] >= chats[1] for call in self.fakes.weather_calls())


def hold_model_call(number: int) -> Callable[[Fakes], None]:
    return lambda fakes: fakes.hold_model_call(number)


# Where each round kills the bot: a call held by a fake, or a step already in the journal, never
# the race between a step's effect and its journal entry (see the module docstring).
KILL_POINTS: list[tuple[str, Callable[[Round], bool], Callable[[Fakes], None] | None]] = [
    # (where, how the test knows it is there, what the fakes hold back for it)
    ("run stored, nothing done", lambda r: r.journal.status(r.update_id) is not None, None),
    ("model call 1 on its way", lambda r: r.in_flight(0), hold_model_call(0)),
    # The search is journaled with the model call after it (the second), once that is answered.
    ("calendar searched", lambda r: r.journaled("tool search_calendar"), None),
    ("model call 2 on its way", lambda r: r.in_flight(1), hold_model_call(1)),
    ("weather tool on its way", lambda r: r.weather_in_flight(), None),
    ("model call 3 on its way", lambda r: r.in_flight(2), hold_model_call(2)),
    # The chat remembered is journaled with the message sent after it: here it is done, and
    # not journaled, so the resumed run remembers it again, which must change nothing.
    (
        "remembered, reply held",
        lambda r: r.store.remembered(r.update_id) and r.fakes.sends_held() > 0,
        Fakes.hold_send,
    ),
    ("reply sent and journaled", lambda r: r.journaled("send message"), None),
    ("run finished", lambda r: r.journal.status(r.update_id) == "SUCCESS", None),
]
FIRST_CHAT = 201


def repeated_model_calls(calls: list[dict[str, Any]]) -> int:
    """Calls made again after the same call (same question, same turn) had been answered."""
    answered: set[tuple[str, int]] = set()
    repeated = 0
    for call in sorted(calls, key=lambda c: c["seq"]):
        key = (call["question"], call["turn"])
        repeated += key in answered
        if call["answered"]:
            answered.add(key)
    return repeated


def test_kill_9_at_any_point_of_an_answer_loses_nothing_and_repeats_nothing(tmp_path, fakes):
    chats = [FIRST_CHAT + n for n in range(len(KILL_POINTS))]
    config = config_for(tmp_path, fakes, chats, mode="agent")
    journal, store = Journal(tmp_path), Store(tmp_path)
    rounds: list[Round] = []
    bots = [start_polling(tmp_path, config, fakes)]
    try:
        for (point, killed_at, held), chat in zip(KILL_POINTS, chats, strict=True):
            # Its own chat and wording, so each round's model calls and replies are told apart.
            round_ = Round(fakes, journal, store, chat, f"{QUESTION} (round {len(rounds) + 1})")
            if held is not None:
                held(fakes)
            round_.update_id = fakes.telegram.message(chat, round_.question)
            rounds.append(round_)
            wait_for(lambda: killed_at(round_), f"{point!r} in chat {chat}", bots[-1])  # noqa: B023
            bots[-1].kill()
            # The same data folder and worker name: DBOS resumes this worker's unfinished runs.
            bots.append(start_polling(tmp_path, config, fakes))
            # The resumed run finishes before the next kill, so every kill lands where it is
            # meant to (a kill at a random moment of another run is a race, see above).
            wait_for(
                lambda: journal.status(round_.update_id) == "SUCCESS",  # noqa: B023
                f"round {len(rounds)} ({point}) to finish after the restart",
                bots[-1],
            )
        bot = bots[-1]
        barrier(fakes.telegram, bot)
    finally:
        bots[-1].terminate()

    answers = {r.chat: texts(fakes.telegram.sent(r.chat)) for r in rounds}
    calls = fakes.model_calls()
    delivered = sum(1 for chat in answers if answers[chat])
    duplicates = sum(max(0, len(sent) - 1) for sent in answers.values())
    repeated = repeated_model_calls(calls)
    distinct = len({(c["question"], c["turn"]) for c in calls})
    print(
        f"\nkill -9 rounds (one per kill point, {MODEL_DELAY} s per model call)\n"
        f"| runs | answers delivered | duplicates seen | model calls repeated | "
        f"model calls made / distinct |\n"
        f"| {len(rounds)} | {delivered} | {duplicates} | {repeated} | {len(calls)} / {distinct} |"
    )
    for (point, _, _), round_ in zip(KILL_POINTS, rounds, strict=True):
        made = len(round_.model_calls())
        print(f"  {point:<26} answers {len(answers[round_.chat])}, model calls {made}")

    log = explain(bots[-1])
    assert "Traceback" not in "".join(b.log() for b in bots), log
    assert delivered == len(rounds), f"lost answers: {answers}{log}"
    assert duplicates == 0, f"duplicate answers: {answers}{log}"
    assert repeated == 0, f"answered model calls made again: {calls}{log}"
    assert distinct == 3 * len(rounds), calls  # search, weather, answer: three calls each
    for round_ in rounds:
        [answer] = answers[round_.chat]
        assert "Tennis match with Sam" in answer and "umbrella" in answer, answer
        # Remembered once, whatever the kill: the question and the answer, the usage counted once.
        assert store.turns(round_.chat) == [("user", round_.question), ("assistant", answer)]
        assert store.messages_counted(round_.chat) == 1


def barrier(telegram: FakeTelegram, bot: Tandem) -> None:
    """Let anything still on its way from earlier updates arrive (as in test_end_to_end)."""
    before = len(texts(telegram.sent(BARRIER)))
    telegram.message(BARRIER, "hello?")
    wait_for(lambda: len(texts(telegram.sent(BARRIER))) > before, "the barrier's reply", bot)


# --- the same update, delivered again ------------------------------------------------------------


def test_an_update_telegram_sends_again_after_a_crash_is_answered_once(tmp_path, fakes):
    chat = FIRST_CHAT
    config = config_for(tmp_path, fakes, [chat], mode="agent")
    journal = Journal(tmp_path)
    telegram = fakes.telegram
    bots = [start_polling(tmp_path, config, fakes)]
    try:
        round_ = Round(fakes, journal, Store(tmp_path), chat, QUESTION)
        fakes.hold_model_call(1)
        round_.update_id = update_id = telegram.message(chat, QUESTION)
        wait_for(lambda: round_.in_flight(1), "the second model call", bots[-1])
        bots[-1].kill()
        # Telegram never got the confirmation: the restarted bot fetches the update again while
        # DBOS resumes its run.
        telegram.resend(update_id)
        bots.append(start_polling(tmp_path, config, fakes))
        wait_for(lambda: journal.status(update_id) == "SUCCESS", "the run to finish", bots[-1])
        wait_for(
            lambda: telegram.confirmed()["offset"] > update_id, "the update confirmed", bots[-1]
        )
        # And once more after it was answered, to a bot started afresh.
        bots[-1].kill()
        telegram.resend(update_id)
        bots.append(start_polling(tmp_path, config, fakes))
        wait_for(lambda: telegram.confirmed()["offset"] > update_id, "the update fetched", bots[-1])
        barrier(telegram, bots[-1])
    finally:
        bots[-1].terminate()

    answers = texts(telegram.sent(chat))
    assert len(answers) == 1, f"{answers}{explain(bots[-1])}"
    assert repeated_model_calls(fakes.model_calls()) == 0, fakes.model_calls()
    assert len(round_.model_calls()) == 4  # three, and the second again: it was cut off
    assert journal.status(update_id) == "SUCCESS"


# --- two webhook workers sharing PostgreSQL ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post_update(port: int, update: dict[str, Any], secret: str) -> int:
    """POST an update to a worker's webhook, as Telegram does; the HTTP status."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/telegram",
        json.dumps(update).encode(),
        {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret},
    )
    try:
        with LOCAL.open(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0  # not listening yet


def a_message(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}", "language_code": "en"}
    chat = {"id": user_id, "type": "private", "first_name": user["first_name"]}
    message = {"message_id": 1, "from": user, "chat": chat, "date": int(time.time()), "text": text}
    return {"update_id": update_id, "message": message}


def runs_by_worker(database: str) -> dict[str, tuple[str, str]]:
    """Each Telegram run in the shared journal: its status and the worker that ran it."""
    import psycopg

    with psycopg.connect(database) as db:
        rows = db.execute(
            "SELECT workflow_uuid, status, executor_id FROM dbos.workflow_status "
            "WHERE workflow_uuid LIKE 'telegram-%'"
        ).fetchall()
    return {uuid: (status, worker) for uuid, status, worker in rows}


def updates_of(runs: dict[str, Any]) -> set[int]:
    """The update ids of these run ids (telegram-<bot id>-<update id>-<digest>)."""
    return {int(run.split("-")[2]) for run in runs}


BURST, FIRST_USER, FIRST_UPDATE = 30, 301, 70_001


def test_two_webhook_workers_answer_each_update_once_and_share_the_work(tmp_path, fakes, postgres):
    users = [FIRST_USER + n for n in range(BURST)]
    config = config_for(tmp_path, fakes, users, mode="workflow")
    ports = {"a": free_port(), "b": free_port()}
    workers = {
        name: launch(
            tmp_path,
            config,
            fakes,
            *("--webhook", f"http://127.0.0.1:{port}/telegram", "--listen", "127.0.0.1"),
            *("--port", str(port), "--worker", name, "--database", postgres),
            claude=False,
        )
        for name, port in ports.items()
    }
    bots = list(workers.values())
    secret = webhook_secret(TOKEN)
    try:
        # A wrong secret is refused before anything is stored; answering it also means "up".
        for name, port in ports.items():
            wrong = a_message(FIRST_UPDATE - 1, users[0], "what's on tomorrow?")
            wait_for(lambda: post_update(port, wrong, "wrong") == 403, f"worker {name}", *bots)  # noqa: B023

        updates = [
            a_message(FIRST_UPDATE + n, user, "what's on tomorrow?") for n, user in enumerate(users)
        ]
        # Each to one worker, and every third to the other one too, right behind it (as a
        # retrying Telegram or a load balancer might): the two race to store the same run.
        posts = [
            (ports[name], update)
            for n, update in enumerate(updates)
            for name in ("ab"[n % 2], "ba"[n % 2])[: 2 if n % 3 == 0 else 1]
        ]
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda post: post_update(*post, secret), posts))
        assert statuses == [200] * len(posts), f"{statuses}{explain(*bots)}"

        every_update = {u["update_id"] for u in updates}
        runs = wait_for(
            lambda: (
                updates_of(found := runs_by_worker(postgres)) >= every_update
                and all(status == "SUCCESS" for status, _ in found.values())
                and found
            ),
            "every update's run to finish",
            *bots,
        )
        # A stranger at each worker (two strangers: either worker may run either run, and a
        # stranger is refused once in a while): what was left from the burst has arrived by then.
        strangers = [BARRIER - n for n in range(len(ports))]
        for n, (port, stranger) in enumerate(zip(ports.values(), strangers, strict=True)):
            barrier_update = a_message(FIRST_UPDATE + BURST + n, stranger, "hello?")
            assert post_update(port, barrier_update, secret) == 200
        wait_for(
            lambda: all(
                texts(fakes.telegram.sent(stranger)) == [REFUSAL.format(user_id=stranger)]
                for stranger in strangers
            ),
            "two refusals",
            *bots,
        )
    finally:
        for bot in bots:
            bot.terminate()

    answers = {user: texts(fakes.telegram.sent(user)) for user in users}
    done_by = {name: sum(worker == name for _, worker in runs.values()) for name in workers}
    print(
        f"\ntwo webhook workers: {len(updates)} updates, {len(posts)} POSTs "
        f"({len(posts) - len(updates)} to both), runs by worker {done_by}, "
        f"answers {sum(map(len, answers.values()))}"
    )
    assert all(len(sent) == 1 for sent in answers.values()), f"{answers}{explain(*bots)}"
    assert sum(done_by.values()) == len(updates), done_by
    assert FIRST_UPDATE - 1 not in updates_of(runs)  # the wrong secret started nothing
    assert all("Traceback" not in bot.log() for bot in bots), explain(*bots)


# --- scheduled slots ------------------------------------------------------------------------------


def test_a_scheduled_slot_is_sent_once_across_kills_and_restarts(tmp_path, fakes):
    config = config_for(tmp_path, fakes, [FIRST_CHAT], mode="workflow")
    settings = yaml.safe_load(config.read_text())
    # The morning briefing, due a minute ago: a start within the grace window sends it late.
    a_minute_ago = datetime.now(ZoneInfo(settings["user"]["timezone"])) - timedelta(minutes=1)
    briefing = next(rule for rule in settings["rules"] if rule.get("schedule"))
    briefing["schedule"].update(at=f"{a_minute_ago:%H:%M}", days=["daily"])
    briefing["voice"] = False
    config.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    journal = Journal(tmp_path)
    telegram = fakes.telegram

    fakes.hold_model_call(0)
    bots = [start_polling(tmp_path, config, fakes)]
    try:
        # Killed while its answer step's model call is on its way, then again once it is done.
        wait_for(lambda: any(not c["answered"] for c in fakes.model_calls()), "a call", bots[-1])
        bots[-1].kill()
        bots.append(start_polling(tmp_path, config, fakes))
        slot = wait_for(lambda: list(journal.runs("slot-")), "the slot's run", bots[-1])
        wait_for(lambda: journal.runs("slot-") == {slot[0]: "SUCCESS"}, "its end", bots[-1])
        bots[-1].kill()
        bots.append(start_polling(tmp_path, config, fakes))
        barrier(telegram, bots[-1])
    finally:
        bots[-1].terminate()

    sent = texts(telegram.sent(SCHEDULE_CHAT))
    assert len(sent) == 1, f"{sent}{explain(bots[-1])}"
    assert journal.runs("slot-") == {slot[0]: "SUCCESS"}
    assert len(fakes.model_calls()) == 2  # the one cut off, then once more; never a third
