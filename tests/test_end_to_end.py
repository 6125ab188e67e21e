"""The real `tandem run` process in Telegram mode, against a fake Bot API server over HTTP.

Each test starts tests/fakes/telegram_server.py and the installed `tandem` console script with
TELEGRAM_BOT_TOKEN set, a fresh data dir and a copy of the example config pointed at the fake.
Users' messages go in through the fake's control API (/_test/...); the tests then wait, against
a deadline, for what the bot sent. Nothing sleeps for a fixed time: every wait polls and ends
as soon as its condition holds, so the file takes a few seconds (at most WAIT_SECONDS per wait
when something is broken). A failing wait or check shows the bot's log (stdout and stderr).

"Nothing else was sent" is checked after a barrier: a stranger's message in another chat is
fetched by a later getUpdates and answered, which takes longer than anything left over from
the earlier update (its handler had already sent its reply when the barrier started).
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from bot.commands import COMMANDS
from bot.telegram.handlers import NOT_TEXT, REFUSAL
from tests.conftest import EXAMPLE, HANG_SECONDS, LONDON
from tests.fakes import control, running
from tests.test_cli import is_tomorrows_listing
from tests.voice_clips import TEST_MODEL

TANDEM = shutil.which("tandem", path=str(Path(sys.executable).parent))
TOKEN = "123:TEST"
OWNER, FRIEND, PARTNER = 111, 112, 113  # the allowed users, each in their private chat
STRANGER, BARRIER = 999, 998  # not allowed
GROUP = -500  # a group Tandem may answer in
SCHEDULE_CHAT = 555  # scheduled rules (the morning briefing) send here, away from every test
# Waits only bound a hang (see HANG_SECONDS): a busy machine makes them slower, never failed.
WAIT_SECONDS = STOP_SECONDS = HANG_SECONDS
LISTEN_SECONDS = 6  # longer voice messages are declined

T = TypeVar("T")
Sent = dict[str, Any]

# Talks to the fake only: no proxy, whatever the environment says.
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class FakeTelegram:
    """The fake Bot API server's control API (see tests/fakes/telegram_server.py)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def _call(self, path: str, body: Any = None) -> Any:
        return control(self.base, path, body, timeout=5)

    def message(self, user_id: int, text: str | None = None, **fields: Any) -> int:
        """A message from `user_id` in their private chat; the update id it got."""
        spec = {"user_id": user_id, **({"text": text} if text is not None else {}), **fields}
        return int(self._call("updates", spec)["update_id"])

    def messages_at_once(self, specs: list[dict[str, Any]]) -> list[int]:
        """Several messages queued together: one getUpdates fetches them all."""
        return [int(queued["update_id"]) for queued in self._call("updates", specs)]

    def sent(self, chat_id: int) -> list[Sent]:
        return list(self._call(f"sent?chat_id={chat_id}"))

    def confirmed(self) -> dict[str, Any]:
        return dict(self._call("confirmed"))

    def state(self) -> dict[str, Any]:
        return dict(self._call("state"))


class Tandem:
    """A running `tandem run` process; its stdout and stderr go to a log file."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process, self.log_file = process, log

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def explain(self) -> str:
        status = self.process.poll()
        state = "still running" if status is None else f"exited with status {status}"
        return f"\n--- tandem ({state}) said: ---\n{self.log()}"

    def show_threads(self) -> None:
        """Have a running bot print where each of its threads is (to its log)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGUSR1)
            time.sleep(1)  # the dump is written from the bot's own signal handler

    def terminate(self, timeout: float = STOP_SECONDS) -> int:
        """SIGTERM, as a service manager stops it; kill -9 if it is not gone by `timeout`."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired as timed_out:
            self.show_threads()
            self.kill()
            # Not `from None`: that would hide a failure already on its way out (a test's
            # `finally` stops its bots while a failed wait is still being raised).
            stuck = f"tandem ignored SIGTERM for {timeout} s{self.explain()}"
            raise AssertionError(stuck) from timed_out

    def kill(self) -> None:
        """kill -9: a crash, with no chance to clean up."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(STOP_SECONDS)


def wait_until(condition: Callable[[], T], what: str, bot: Tandem) -> T:
    """Poll `condition` until it is truthy; fail with the bot's log after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        result = condition()
        if result:
            return result
        if bot.process.poll() is not None:
            raise AssertionError(f"tandem stopped while waiting for {what}{bot.explain()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {WAIT_SECONDS} s for {what}{bot.explain()}")
        time.sleep(0.02)


def texts(sent: list[Sent]) -> list[str]:
    """The texts of sent messages, as the user reads them (the bot sends escaped HTML)."""
    return [html.unescape(s["text"]) for s in sent if s["method"] == "sendMessage"]


def replies(fake: FakeTelegram, chat_id: int, bot: Tandem, count: int = 1) -> list[str]:
    """Wait until `count` messages were sent to `chat_id`; their texts."""
    return wait_until(
        lambda: len(found := texts(fake.sent(chat_id))) >= count and found,
        f"{count} message(s) to chat {chat_id}",
        bot,
    )


def barrier(fake: FakeTelegram, bot: Tandem) -> None:
    """Let anything still on its way from earlier updates arrive (see the module docstring)."""
    before = len(fake.sent(BARRIER))
    fake.message(BARRIER, "hello?")
    replies(fake, BARRIER, bot, count=before + 1)


def write_config(path: Path, fake: FakeTelegram) -> Path:
    """The example config, served through the fake, for three users, offline (voice messages
    are heard by the model the test extra installs)."""
    settings = yaml.safe_load(EXAMPLE.read_text())
    settings["telegram"].update(
        allowed_user_ids=[OWNER, FRIEND, PARTNER],
        allowed_group_ids=[GROUP],
        base_url=f"{fake.base}/bot",
        base_file_url=f"{fake.base}/file/bot",
    )
    for calendar in settings["calendars"]:
        calendar["path"] = str(EXAMPLE.parent / calendar["path"])
    settings["scheduler"]["chat_id"] = SCHEDULE_CHAT
    # Not asked about here; if the morning briefing runs, it fails fast instead of going out.
    settings["weather"].update(
        forecast_url=f"{fake.base}/no-weather/v1/forecast",
        geocoding_url=f"{fake.base}/no-weather/v1/search",
    )
    settings["listen"] = {"model": str(TEST_MODEL), "max_seconds": LISTEN_SECONDS}
    path.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    return path


def start_tandem(config: Path, folder: Path, fake: FakeTelegram) -> Tandem:
    """`tandem run` with a token; returns once it polls the fake for updates."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("ANTHROPIC_API_KEY", "TANDEM_CONFIG", "OTEL_EXPORTER_OTLP_ENDPOINT")
    }
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TANDEM_DATA_DIR=str(folder / "data"),
        NO_PROXY="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    log = folder / "tandem.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [TANDEM or "tandem", "run", "--config", str(config)],
            cwd=folder,  # no .env from the project folder
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    bot = Tandem(process, log)
    wait_until(lambda: fake.state()["get_updates_calls"] > 0, "the bot to poll", bot)
    assert "Tandem is polling Telegram for messages (worker " in bot.log(), bot.explain()
    return bot


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with running("tests.fakes.telegram_server", "--token", TOKEN) as base:
        yield FakeTelegram(base)


@pytest.fixture
def bot(tmp_path: Path, telegram: FakeTelegram) -> Iterator[Tandem]:
    """Tandem serving the fake; stopped afterwards, and its log must hold no traceback."""
    tandem = start_tandem(write_config(tmp_path / "tandem.yaml", telegram), tmp_path, telegram)
    try:
        yield tandem
    finally:
        tandem.terminate()
    assert "Traceback" not in tandem.log(), tandem.explain()


def test_the_owner_asks_whats_on_tomorrow_and_gets_one_reply(telegram, bot):
    asked = datetime.now(LONDON)
    telegram.message(OWNER, "what's on tomorrow?")
    [reply] = replies(telegram, OWNER, bot)
    assert is_tomorrows_listing(reply, asked), reply + bot.explain()

    barrier(telegram, bot)
    sent = telegram.sent(OWNER)
    assert texts(sent) == [reply], bot.explain()
    assert {s["method"] for s in sent} <= {"sendMessage", "sendChatAction"}
    assert all(s.get("reply_to_message_id") is None for s in sent)  # nothing came in between
    assert all(s["parse_mode"] == "HTML" for s in sent if s["method"] == "sendMessage")


def test_a_stranger_is_told_their_id_and_nothing_else(telegram, bot):
    telegram.message(STRANGER, "what's on tomorrow?")
    assert replies(telegram, STRANGER, bot) == [REFUSAL.format(user_id=STRANGER)]

    barrier(telegram, bot)
    sent = telegram.sent(STRANGER)
    assert [s["method"] for s in sent] == ["sendMessage"], f"{sent}{bot.explain()}"
    assert str(STRANGER) in texts(sent)[0]


def test_the_command_menu_is_the_command_table(telegram, bot):
    menu = [{"command": command.name, "description": command.help} for command in COMMANDS]
    wait_until(lambda: telegram.state()["commands"] == menu, "the command menu", bot)
    telegram.message(OWNER, "/usage")
    [reply] = replies(telegram, OWNER, bot)
    assert reply.startswith("Today: 0 messages"), reply + bot.explain()


def test_a_sticker_gets_the_text_only_note(telegram, bot):
    telegram.message(OWNER, sticker="👍")
    assert replies(telegram, OWNER, bot) == [NOT_TEXT]

    barrier(telegram, bot)
    assert [s["method"] for s in telegram.sent(OWNER)] == ["sendMessage"], bot.explain()


def test_say_sends_a_voice_note_telegram_plays_as_a_bubble(telegram, bot):
    import soundfile

    asked = datetime.now(LONDON)
    telegram.message(OWNER, "/say what's on tomorrow?")
    voice = wait_until(
        lambda: [s for s in telegram.sent(OWNER) if s["method"] == "sendVoice"],
        "a voice note",
        bot,
    )[0]
    sent = telegram.sent(OWNER)
    assert is_tomorrows_listing(texts(sent)[0], asked), bot.explain()
    actions = [s.get("action") for s in sent if s["method"] == "sendChatAction"]
    assert "upload_voice" in actions

    assert voice["voice"]["filename"] == "reply.ogg"
    assert voice["duration"] >= 1
    ogg = base64.b64decode(voice["voice"]["data_base64"])
    with soundfile.SoundFile(io.BytesIO(ogg)) as audio:
        info = (audio.format, audio.subtype, audio.channels, audio.samplerate)
        seconds = audio.frames / audio.samplerate
    assert info == ("OGG", "OPUS", 1, 48000)
    assert abs(seconds - voice["duration"]) <= 1


def test_three_chats_at_once_are_each_answered_once(telegram, bot):
    questions = {
        OWNER: "what's on tomorrow?",
        FRIEND: "what's on Saturday?",
        PARTNER: "When is my next dentist appointment?",
    }
    asked = datetime.now(LONDON)
    ids = telegram.messages_at_once([{"user_id": u, "text": q} for u, q in questions.items()])
    answers = {chat: replies(telegram, chat, bot) for chat in questions}

    barrier(telegram, bot)
    for chat in questions:
        assert texts(telegram.sent(chat)) == answers[chat], bot.explain()
    assert is_tomorrows_listing(answers[OWNER][0], asked)
    assert "Parkrun" in answers[FRIEND][0]
    assert answers[PARTNER][0].startswith("Your next “dentist”:")
    assert telegram.confirmed()["offset"] > max(ids)


def test_sigterm_stops_it_cleanly(telegram, bot):
    update_id = telegram.message(OWNER, "what's on tomorrow?")
    replies(telegram, OWNER, bot)

    status = bot.terminate()
    assert status == 0, bot.explain()
    confirmed = telegram.confirmed()
    assert confirmed["offset"] > update_id and not confirmed["pending"], bot.explain()


def bot_api(fake: FakeTelegram, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Call the fake's Bot API as a bot would; the HTTP status and the JSON answer."""
    request = urllib.request.Request(
        f"{fake.base}/bot{TOKEN}/{method}",
        json.dumps(params).encode(),
        {"Content-Type": "application/json"},
    )
    try:
        with LOCAL.open(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_in_a_burst_each_answer_and_refusal_replies_to_its_question(telegram, bot):
    asked = datetime.now(LONDON)
    burst = [{"user_id": OWNER, "text": f"what's on tomorrow? ({n})"} for n in range(12)]
    queued = telegram._call("updates", burst)  # the limit is 10 messages a minute
    questions = [int(one["message_id"]) for one in queued]
    answers = wait_until(
        lambda: (
            len(sent := [s for s in telegram.sent(OWNER) if s["method"] == "sendMessage"]) >= 12
            and sent
        ),
        "12 answers",
        bot,
    )
    assert [s["reply_to_message_id"] for s in answers] == questions, bot.explain()
    said = texts(answers)
    assert all(is_tomorrows_listing(text, asked) for text in said[:10]), bot.explain()
    assert all("messages in a minute. Please wait" in text for text in said[10:]), bot.explain()


def test_the_fake_bot_api_checks_reply_parameters_as_telegram_does(telegram):
    [queued] = telegram._call("updates", [{"user_id": OWNER, "text": "what's on tomorrow?"}])
    question = int(queued["message_id"])

    def send(reply_parameters: Any) -> tuple[int, dict[str, Any]]:
        params = {"chat_id": OWNER, "text": "Nothing.", "reply_parameters": reply_parameters}
        return bot_api(telegram, "sendMessage", params)

    status, answer = send({"message_id": question, "quote": "tomorrow"})
    assert status == 200 and answer["result"]["reply_to_message"]["message_id"] == question
    status, answer = send({"message_id": question + 100})
    assert (status, answer["description"]) == (400, "Bad Request: message to be replied not found")
    status, answer = send({"message_id": question + 100, "allow_sending_without_reply": True})
    assert status == 200 and "reply_to_message" not in answer["result"]
    status, answer = send({"message_id": question, "quote": "yesterday"})
    assert (status, answer["description"]) == (400, "Bad Request: quote not found")
    status, answer = send("{not json")
    assert status == 400 and "can't parse reply_parameters JSON object" in answer["description"]
    assert send({"chat_id": OWNER})[0] == 400


def test_a_message_python_telegram_bot_cannot_read_does_not_stop_the_others(telegram, bot):
    # A photo in a shape this python-telegram-bot does not know (as a newer Bot API may send):
    # reading it fails. Before, the whole batch failed with it, for ever, and no one was answered.
    telegram.message(OWNER, message={"photo": [{"file_id": "AgAD", "shape": "new"}]})
    assert replies(telegram, OWNER, bot) == [NOT_TEXT]

    telegram.message(FRIEND, "what's on tomorrow?")
    [answer] = replies(telegram, FRIEND, bot)
    assert is_tomorrows_listing(answer, datetime.now(LONDON)), answer + bot.explain()
    assert "AgAD" not in bot.log()  # what people send stays out of the log


def telegram_error(code: int, description: str, **parameters: Any) -> dict[str, Any]:
    """A Bot API error answer, as Telegram words it."""
    body = {"ok": False, "error_code": code, "description": description}
    return {"status": code, "body": {**body, **({"parameters": parameters} if parameters else {})}}


def fail_next_sends(telegram: FakeTelegram, fault: dict[str, Any], times: int = 1) -> None:
    control(telegram.base, "fault", {"path": "sendMessage", "times": times, **fault})


def faults_served(telegram: FakeTelegram) -> int:
    return int(control(telegram.base, "fault")["served"])


def test_a_chat_that_blocked_tandem_ends_its_run_in_one_line_of_log(telegram, bot):
    fail_next_sends(telegram, telegram_error(403, "Forbidden: bot was blocked by the user"))
    telegram.message(OWNER, "what's on tomorrow?")
    wait_until(lambda: faults_served(telegram) == 1, "the refused answer", bot)

    barrier(telegram, bot)  # still listening, and nothing more was tried in the blocked chat
    assert faults_served(telegram) == 1 and texts(telegram.sent(OWNER)) == [], bot.explain()
    assert "the chat refuses Tandem (Forbidden: bot was blocked by the user)" in bot.log()
    # (the fixture checks that the log holds no traceback)


def test_a_group_that_became_a_supergroup_gets_its_answer_there(telegram, bot):
    supergroup = -1000000000500
    moved = telegram_error(
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=supergroup,
    )
    fail_next_sends(telegram, moved)
    telegram.message(OWNER, "/help", chat_id=GROUP)

    [answer] = replies(telegram, supergroup, bot)
    assert answer.startswith("I answer questions about your own calendar"), bot.explain()


@pytest.mark.parametrize(
    "fault",
    [
        telegram_error(500, "Internal Server Error"),
        {"kind": "html", "status": 502},
        {"kind": "close"},
    ],
    ids=["500", "502 page", "dropped"],
)
def test_an_answer_telegram_failed_to_take_is_sent_again(telegram, bot, fault):
    fail_next_sends(telegram, fault)
    telegram.message(OWNER, "what's on tomorrow?")

    [answer] = replies(telegram, OWNER, bot)
    assert is_tomorrows_listing(answer, datetime.now(LONDON)), answer + bot.explain()
    assert faults_served(telegram) == 1


def test_in_a_group_commands_for_other_bots_and_service_messages_get_no_reply(telegram, bot):
    telegram.message(OWNER, "/help@other_bot", chat_id=GROUP)
    telegram.message(
        OWNER,
        message={
            "pinned_message": {"message_id": 1, "date": 0, "chat": {"id": OWNER, "type": "private"}}
        },
    )
    telegram.message(OWNER, "/help@tandem_fake_bot", chat_id=GROUP)

    [answer] = replies(telegram, GROUP, bot)
    assert answer.startswith("I answer questions about your own calendar"), bot.explain()
    barrier(telegram, bot)
    assert texts(telegram.sent(GROUP)) == [answer], bot.explain()
    assert texts(telegram.sent(OWNER)) == [], bot.explain()


def test_a_token_revoked_while_running_is_said_plainly_and_polling_goes_on(telegram, bot):
    unauthorized = telegram_error(401, "Unauthorized")
    control(telegram.base, "fault", {"path": "getUpdates", "times": 1, **unauthorized})
    telegram.message(OWNER, "/help")  # ends the long poll under way; the next one is refused

    [answer] = replies(telegram, OWNER, bot)
    assert answer.startswith("I answer questions about your own calendar"), bot.explain()
    assert "Telegram refuses the bot token: was it revoked in @BotFather?" in bot.log()
