"""The real `tandem run` receiving updates when things go wrong (issue 9), against the fakes.

- A full disk while polling: the update is not confirmed to Telegram, the failure is logged
  and retried, `tandem status` says Tandem is not receiving and why; once there is room again
  the message is answered. (The disk is filled for the bot process alone by lowering its
  RLIMIT_FSIZE to 0, so every write to a file fails as on a full disk; its log goes through a
  pipe, which the limit does not touch.)
- Update ids that start again (a new Bot API server on the same data folder): a new message
  with an old id is answered.
- One chat's messages answered one at a time, in order: a question, then `/mode agent`.
- The data folder and every file in it private, and tightened when found looser.
- Clear start-up errors: a rejected token, an unreachable Bot API, a full or read-only folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import sqlite3
import stat
import subprocess
import threading
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from telegram.error import NetworkError

from bot.telegram import updates
from bot.telegram.receiving import Backoff, Health
from bot.telegram.server import poll, webhook_secret
from tests.conftest import HANG_SECONDS
from tests.fakes import running
from tests.test_durability import (
    LOCAL,
    TANDEM,
    TOKEN,
    Fakes,
    Telegram,
    a_message,
    config_for,
    environment,
    explain,
    fakes,  # noqa: F401 (a fixture)
    free_port,
    launch,
    post_update,
    texts,
    wait_for,
)
from tests.test_end_to_end import Tandem

OWNER = 201
QUESTION = "will it rain at my tennis match?"


@contextlib.contextmanager
def piped_bot(folder: Path, config: Path, *arguments: str) -> Iterator[Tandem]:
    """`tandem run` whose output reaches its log file through a pipe (no file size limit)."""
    log = folder / "tandem-piped.log"
    process = subprocess.Popen(
        [TANDEM or "tandem", "run", "--config", str(config), "--worker", "solo", *arguments],
        cwd=folder,
        env=environment(folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def copy() -> None:
        assert process.stdout is not None
        with log.open("ab") as out:
            for line in process.stdout:
                out.write(line)
                out.flush()

    copier = threading.Thread(target=copy, daemon=True)
    copier.start()
    bot = Tandem(process, log)
    try:
        yield bot
    finally:
        bot.terminate()
        copier.join(5)


def disk_full(pid: int, full: bool) -> None:
    """No file of process `pid` can grow (as on a full disk), or they can again."""
    _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (0 if full else hard, hard))


def tandem_status(folder: Path, config: Path) -> tuple[int, str]:
    done = subprocess.run(
        [TANDEM or "tandem", "status", "--config", str(config)],
        cwd=folder,
        env=environment(folder),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_full_disk_while_polling_is_logged_retried_and_then_answered(tmp_path, fakes):  # noqa: F811
    config = config_for(tmp_path, fakes, [OWNER], mode="workflow")
    telegram = fakes.telegram
    with piped_bot(tmp_path, config) as bot:
        polled = lambda: telegram.state()["get_updates_calls"] > 0  # noqa: E731
        wait_for(polled, "the bot to poll", bot)
        wait_for(lambda: tandem_status(tmp_path, config)[0] == 0, "status: receiving", bot)

        disk_full(bot.process.pid, True)
        update_id = telegram.message(OWNER, "what's on tomorrow?")
        wait_for(lambda: "Could not store updates" in bot.log(), "the failure logged", bot)
        # It cannot even write its status file now: `tandem status` notices the silence.
        said = wait_for(
            lambda: (found := tandem_status(tmp_path, config))[0] == 1 and found[1],
            "status: not receiving",
            bot,
        )
        assert "NOT receiving: no word from it" in said, said
        assert update_id in telegram.confirmed()["pending"]  # not confirmed: Telegram keeps it
        assert texts(telegram.sent(OWNER)) == []

        disk_full(bot.process.pid, False)
        answers = wait_for(lambda: texts(telegram.sent(OWNER)), "the answer", bot)
        wait_for(lambda: update_id not in telegram.confirmed()["pending"], "confirmed", bot)
        wait_for(lambda: tandem_status(tmp_path, config)[0] == 0, "status: receiving", bot)
    assert len(answers) == 1 and "Tomorrow" in answers[0], answers
    assert "Could store updates again" in bot.log(), bot.explain()
    assert TOKEN not in bot.log()


def healthz(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with LOCAL.open(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            return int(response.status), json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc) if exc.code == 503 else {}
    except OSError:
        return 0, {}  # not listening yet


def test_a_webhook_answers_503_while_it_cannot_store_and_healthz_says_so(tmp_path, fakes):  # noqa: F811
    config = config_for(tmp_path, fakes, [OWNER], mode="workflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    secret = webhook_secret(TOKEN)
    with piped_bot(
        tmp_path, config, "--webhook", url, "--listen", "127.0.0.1", "--port", str(port)
    ) as bot:
        wait_for(lambda: healthz(port)[0] == 200, "healthz: receiving", bot)

        disk_full(bot.process.pid, True)
        update = a_message(80_001, OWNER, "what's on tomorrow?")
        assert post_update(port, update, secret) == 503  # Telegram sends it again later
        status, report = healthz(port)
        assert status == 503 and report["receiving"] is False, report

        disk_full(bot.process.pid, False)
        assert post_update(port, update, secret) == 200
        answers = wait_for(lambda: texts(fakes.telegram.sent(OWNER)), "the answer", bot)
        assert healthz(port)[0] == 200
    assert len(answers) == 1 and "Tomorrow" in answers[0], answers
    assert "Could not store an update" in bot.log(), bot.explain()


def test_an_update_id_used_again_for_another_message_is_answered(tmp_path, fakes):  # noqa: F811
    config = config_for(tmp_path, fakes, [OWNER], mode="workflow")
    bot = launch(tmp_path, config, fakes, "--worker", "solo", claude=False)
    try:
        first = fakes.telegram.message(OWNER, "what's on tomorrow?")
        wait_for(lambda: texts(fakes.telegram.sent(OWNER)), "the first answer", bot)
    finally:
        bot.terminate()
    # A new Bot API server for the same bot and data folder: its update ids start again.
    with running("tests.fakes.telegram_server", "--token", TOKEN) as base:
        again = Fakes(Telegram(base), fakes.claude, fakes.meteo)
        config = config_for(tmp_path, again, [OWNER], mode="workflow")
        bot = launch(tmp_path, config, again, "--worker", "solo", claude=False)
        try:
            second = again.telegram.message(OWNER, "what's on Saturday?")
            assert second == first
            answers = wait_for(lambda: texts(again.telegram.sent(OWNER)), "the answer", bot)
        finally:
            bot.terminate()
    assert len(answers) == 1 and "Saturday" in answers[0], f"{answers}{explain(bot)}"


def test_one_chat_is_answered_in_order_a_question_then_mode_agent(tmp_path, fakes):  # noqa: F811
    config = config_for(tmp_path, fakes, [OWNER], mode="workflow")
    bot = launch(tmp_path, config, fakes, "--worker", "solo", claude=True)
    try:
        # One getUpdates brings both; the question waits on the weather (and the model).
        fakes.telegram.messages_at_once(
            [{"user_id": OWNER, "text": QUESTION}, {"user_id": OWNER, "text": "/mode agent"}]
        )
        answers = wait_for(
            lambda: len(found := texts(fakes.telegram.sent(OWNER))) >= 2 and found,
            "both replies",
            bot,
        )
    finally:
        bot.terminate()
    assert "Tennis match with Sam" in answers[0], f"{answers}{explain(bot)}"
    assert answers[1].startswith("Mode: agent"), answers
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "tandem.sqlite3")) as db:
        modes = db.execute("SELECT question, mode FROM runs").fetchall()
    assert modes == [(QUESTION, "workflow")]  # answered in the mode it was asked in


def test_the_data_folder_is_private_and_tightened_when_found_looser(tmp_path, fakes):  # noqa: F811
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "tandem.sqlite3").touch()
    (data / "tandem.sqlite3").chmod(0o644)
    config = config_for(tmp_path, fakes, [OWNER], mode="workflow")
    bot = launch(tmp_path, config, fakes, "--worker", "solo", claude=False)
    try:
        fakes.telegram.message(OWNER, "what's on tomorrow?")
        wait_for(lambda: texts(fakes.telegram.sent(OWNER)), "the answer", bot)
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in data.iterdir()}
    finally:
        bot.terminate()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert {"runs.sqlite3", "tandem.sqlite3"} <= modes.keys(), modes
    assert all(mode == 0o600 for mode in modes.values()), modes
    assert "tightened to 700" in bot.log() and "tightened to 600" in bot.log(), bot.explain()


# --- start-up ------------------------------------------------------------------------------------


def start_once(folder: Path, config: Path, token: str = TOKEN, **popen: object) -> tuple[int, str]:
    """`tandem run` expected to stop at start-up: its exit status and what it said."""
    env = environment(folder)
    env["TELEGRAM_BOT_TOKEN"] = token
    done = subprocess.run(
        [TANDEM or "tandem", "run", "--config", str(config)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        **popen,  # type: ignore[arg-type]
    )
    return done.returncode, done.stdout + done.stderr


def test_a_rejected_token_is_a_clear_message_without_the_token(tmp_path, fakes):  # noqa: F811
    config = config_for(tmp_path, fakes, [OWNER], mode="workflow")
    wrong = "123:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX"  # a real shape; the fake wants 123:TEST
    code, said = start_once(tmp_path, config, token=wrong)
    assert code == 1, said
    assert "Telegram rejected the bot token in TELEGRAM_BOT_TOKEN" in said, said
    assert "Traceback" not in said and wrong not in said and "AAHdq" not in said, said


def test_an_unreachable_bot_api_is_a_clear_message(tmp_path, fakes):  # noqa: F811
    config = config_for(tmp_path, fakes, [OWNER], mode="workflow")
    with running("tests.fakes.telegram_server") as base:
        closed = base  # a port that answered once and is closed below
    config.write_text(config.read_text().replace(fakes.telegram.base, closed))
    code, said = start_once(tmp_path, config)
    assert code == 1, said
    assert f"the Telegram Bot API at {closed} is not answering" in said, said
    assert "Traceback" not in said and TOKEN not in said, said


def test_a_full_data_folder_is_a_clear_message(tmp_path, fakes):  # noqa: F811
    config = config_for(tmp_path, fakes, [OWNER], mode="workflow")

    def no_room() -> None:  # every file this process writes stops at 4 KiB
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))

    code, said = start_once(tmp_path, config, preexec_fn=no_room)
    assert code == 1, said
    assert f"the data folder {tmp_path / 'data'} is full" in said, said
    assert "Traceback" not in said, said


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a read-only folder anyway")
def test_a_read_only_data_folder_is_a_clear_message(tmp_path, fakes):  # noqa: F811
    config = config_for(tmp_path, fakes, [OWNER], mode="workflow")
    (tmp_path / "data").mkdir(mode=0o500)
    code, said = start_once(tmp_path, config)
    assert code == 1, said
    assert "is read-only or not writable by this user" in said, said
    assert "Traceback" not in said, said


# --- the loop itself, in process ----------------------------------------------------------------


class FlakyBot:
    """A Bot API whose deleteWebhook fails twice (502, as a proxy in front of it might)."""

    def __init__(self) -> None:
        self.deletes = 0
        self.polling = asyncio.Event()

    async def delete_webhook(self) -> bool:
        self.deletes += 1
        if self.deletes <= 2:
            raise NetworkError("Bad Gateway")
        return True

    async def do_api_request(self, endpoint: str, **options: Any) -> list[Any]:
        assert endpoint == "getUpdates"
        self.polling.set()
        await asyncio.Event().wait()  # a long poll with nothing new
        return []


async def test_a_failing_delete_webhook_is_logged_and_retried_until_it_works(caplog):
    bot, health = FlakyBot(), Health("solo", "polling")
    stored: list[Any] = []

    async def store(updates: list[Any]) -> None:
        stored.extend(updates)

    with caplog.at_level(logging.ERROR, logger="bot.telegram.receiving"):
        task = asyncio.create_task(poll(bot, store, health, Backoff(first=0.01, cap=0.02)))  # type: ignore[arg-type]
        try:
            await asyncio.wait_for(bot.polling.wait(), timeout=30)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert bot.deletes == 3
    failures = [r.getMessage() for r in caplog.records if "delete the webhook" in r.getMessage()]
    assert len(failures) == 2 and "Bad Gateway" in failures[0], failures
    assert health.listening and not health.failing


class DrippingBot:
    """A Bot API whose getUpdates answer never ends arriving (a byte now and then)."""

    async def do_api_request(self, endpoint: str, **options: Any) -> list[Any]:
        await asyncio.Event().wait()
        return []


async def test_a_poll_whose_answer_never_ends_arriving_is_given_up(monkeypatch):
    monkeypatch.setattr(updates, "READ_MARGIN_SECONDS", 0.1)
    polling = asyncio.create_task(updates.fetch_updates(DrippingBot(), None, 0, ["message"]))  # type: ignore[arg-type]

    await asyncio.wait([polling], timeout=HANG_SECONDS)

    # Before, only each read had a timeout: the poll waited as long as the answer dripped.
    assert polling.done() and isinstance(polling.exception(), TimeoutError)
