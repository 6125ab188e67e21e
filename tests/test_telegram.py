"""The Telegram front end, offline: a fake Bot API records every call, updates are fed directly.

Assertions look at what the user would see: the texts sent back to the chat.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import logging
import sqlite3
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.config import Settings, TelegramSettings
from bot.engine.journal import Journal, run_action
from bot.messages import Incoming, Reply
from bot.store.access import Access
from bot.store.db import open_database
from bot.telegram import handlers as telegram_app
from bot.telegram import outbox
from bot.telegram.handlers import REFUSAL, SORRY, build_application
from bot.telegram.outbox import split_message
from integrations.listen import NO_WORDS, ListenError, NothingHeard

pytestmark = pytest.mark.anyio

OWNER = 111
STRANGER = 999
BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Tandem", "username": "tandem_test_bot"}
HELP = "I answer questions about your calendar.\nRules: dentist, weather at events."
DATE = 1_767_225_600  # 2026-01-01, seconds as the Bot API sends them


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeBotApi(BaseRequest):
    """Answers getMe, sendMessage, sendChatAction, sendVoice and getFile with the documented JSON,
    and serves `files` (file_path -> bytes) for download; records all calls."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.voices: list[dict[str, Any]] = []  # each sendVoice's uploaded parts
        self.failing = failing
        self._message_ids = itertools.count(1000)
        self.files: dict[str, bytes] = {}

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        self.calls.append((name, params))
        if "/file/bot" in url:
            path = url.split("/file/bot", 1)[1].split("/", 1)[1]
            return (200, self.files[path]) if path in self.files else (404, b"Not Found")
        if name in self.failing:
            return 400, _json({"ok": False, "error_code": 400, "description": "Bad Request"})
        if name == "getMe":
            result: Any = {**BOT_USER, "can_join_groups": True, "supports_inline_queries": False}
        elif name == "sendMessage":
            result = {
                "message_id": next(self._message_ids),
                "date": DATE,
                "chat": {"id": params["chat_id"], "type": "private"},
                "from": BOT_USER,
                "text": params["text"],
            }
        elif name == "sendChatAction":
            result = True
        elif name == "getFile":
            path = f"voice/{params['file_id']}.oga"
            result = {"file_id": params["file_id"], "file_unique_id": "AgADbQ", "file_path": path}
        elif name == "sendVoice":
            self.voices.append(request_data.multipart_data if request_data else {})
            result = {
                "message_id": next(self._message_ids),
                "date": DATE,
                "chat": {"id": params["chat_id"], "type": "private"},
                "from": BOT_USER,
                "voice": {
                    "file_id": "AwACAgIAAxkBAAI",
                    "file_unique_id": "AgADbQ",
                    "duration": params["duration"],
                    "mime_type": "audio/ogg",
                },
            }
        else:
            return 404, _json({"ok": False, "error_code": 404, "description": "Not Found"})
        return 200, _json({"ok": True, "result": result})

    def named(self, name: str) -> list[dict[str, Any]]:
        return [params for called, params in self.calls if called == name]

    def seen(self) -> list[str]:
        """The messages as the user reads them (HTML entities resolved)."""
        return [html.unescape(params["text"]) for params in self.named("sendMessage")]


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


@dataclass
class FakeCore:
    access: Access | None = None
    answer: str = "Dentist tomorrow at 10:00."
    error: Exception | None = None
    work_seconds: float = 0.01
    received: list[Incoming] = field(default_factory=list)
    help_calls: int = 0
    heard: str | ListenError = "what's on Saturday?"
    recordings: list[bytes] = field(default_factory=list)

    async def handle(self, message: Incoming) -> Reply:
        self.received.append(message)
        await asyncio.sleep(self.work_seconds)
        if self.error is not None:
            raise self.error
        return Reply(text=self.answer)

    async def add_voice(self, reply: Reply) -> Reply:
        return reply

    async def hear(self, audio: bytes, user_id: int) -> str:
        self.recordings.append(audio)
        if isinstance(self.heard, ListenError):
            raise self.heard
        return self.heard

    def help_text(self) -> str:
        self.help_calls += 1
        return HELP


@dataclass
class Harness:
    application: Application
    api: FakeBotApi

    async def send(self, update: dict[str, Any]) -> None:
        await self.application.process_update(Update.de_json(update, self.application.bot))


@asynccontextmanager
async def running_bot(
    core: FakeCore,
    settings: TelegramSettings | None = None,
    api: FakeBotApi | None = None,
    journal: Journal | None = None,
) -> AsyncIterator[Harness]:
    settings = settings or TelegramSettings(allowed_user_ids=[OWNER])
    api = api or FakeBotApi()
    # Who may talk is decided by `settings` here, whatever the core's own config says.
    core.access = Access(
        Settings(telegram=settings), open_database(Path(tempfile.mkdtemp()) / "access.db")
    )
    application = build_application(core, settings, "123:TEST", journal=journal, request=api)
    await application.initialize()
    try:
        yield Harness(application, api)
    finally:
        await application.shutdown()


_update_ids = itertools.count(1)


def message_update(user_id: int = OWNER, kind: str = "message", **content: Any) -> dict[str, Any]:
    person = {"id": user_id, "is_bot": False, "first_name": "Ada", "language_code": "en"}
    message = {
        "message_id": next(_update_ids),
        "date": DATE,
        "chat": {"id": user_id, "type": "private", "first_name": "Ada"},
        "from": person,
        **content,
    }
    return {"update_id": next(_update_ids), kind: message}


def text_update(text: str, user_id: int = OWNER) -> dict[str, Any]:
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        command = text.split()[0]
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return message_update(user_id, **content)


STICKER = {
    "sticker": {
        "file_id": "CAACAgIAAxkBAAE",
        "file_unique_id": "AgADsQADVp29Cg",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
}
PHOTO = {
    "photo": [
        {"file_id": "AgACAgIAAxkBAAE", "file_unique_id": "AQADbrwx", "width": 90, "height": 67}
    ]
}


async def test_allowed_user_gets_the_core_reply() -> None:
    core = FakeCore()
    async with running_bot(core) as bot:
        await bot.send(text_update("When is the dentist?"))

    assert bot.api.seen() == ["Dentist tomorrow at 10:00."]
    assert core.received == [
        Incoming(chat_id=OWNER, user_id=OWNER, text="When is the dentist?", language="en")
    ]


async def test_stranger_is_refused_with_their_id_and_the_core_is_not_called() -> None:
    core = FakeCore()
    async with running_bot(core) as bot:
        await bot.send(text_update("What's on my calendar?", user_id=STRANGER))

    assert bot.api.seen() == [REFUSAL.format(user_id=STRANGER)]
    assert str(STRANGER) in bot.api.seen()[0]
    assert core.received == []
    assert bot.api.named("sendChatAction") == []


async def test_stranger_sending_a_command_is_refused_too() -> None:
    core = FakeCore()
    async with running_bot(core) as bot:
        await bot.send(text_update("/help", user_id=STRANGER))

    assert bot.api.seen() == [REFUSAL.format(user_id=STRANGER)]
    assert core.help_calls == 0


async def test_empty_allowlist_refuses_everyone() -> None:
    core = FakeCore()
    async with running_bot(core, TelegramSettings()) as bot:
        await bot.send(text_update("hello", user_id=OWNER))

    assert bot.api.seen() == [REFUSAL.format(user_id=OWNER)]
    assert core.received == []


async def test_help_shows_the_core_help_text() -> None:
    core = FakeCore()
    async with running_bot(core) as bot:
        await bot.send(text_update("/help"))

    assert bot.api.seen() == [HELP]
    assert core.received == []


async def test_start_greets_and_includes_the_help_text() -> None:
    async with running_bot(FakeCore()) as bot:
        await bot.send(text_update("/start"))

    (greeting,) = bot.api.seen()
    assert greeting.startswith("Hi Ada! I'm Tandem")
    assert "calendar" in greeting
    assert greeting.endswith(HELP)


async def test_unknown_command_points_to_help() -> None:
    core = FakeCore()
    async with running_bot(core) as bot:
        await bot.send(text_update("/frobnicate"))

    assert bot.api.seen() == [telegram_app.UNKNOWN_COMMAND]
    assert core.received == []


@pytest.mark.parametrize("content", [STICKER, PHOTO], ids=["sticker", "photo"])
async def test_non_text_gets_a_polite_answer_without_calling_the_core(
    content: dict[str, Any],
) -> None:
    core = FakeCore()
    async with running_bot(core) as bot:
        await bot.send(message_update(**content))

    (answer,) = bot.api.seen()
    assert "I read text and listen to voice messages" in answer
    assert "type or say your question" in answer
    assert core.received == []


async def test_a_photo_with_a_question_has_the_question_answered() -> None:
    core = FakeCore()
    async with running_bot(core) as bot:
        await bot.send(message_update(**PHOTO, caption="When is the dentist?"))

    (answer,) = bot.api.seen()
    assert answer.startswith("Dentist tomorrow at 10:00.")  # before: only "I read text…"
    assert "can't look at photos" in answer
    assert [incoming.text for incoming in core.received] == ["When is the dentist?"]


def voice_update(size: int, file_id: str = "AwACAgIAAxkBAAJ") -> dict[str, Any]:
    voice = {"file_id": file_id, "file_unique_id": "AgADbQ", "duration": 2, "file_size": size}
    return message_update(voice={**voice, "mime_type": "audio/ogg"})


async def test_a_voice_message_is_downloaded_heard_and_handled_as_typed() -> None:
    core = FakeCore()
    async with running_bot(core) as bot:
        bot.api.files["voice/AwACAgIAAxkBAAJ.oga"] = b"OggS-voice"
        await bot.send(voice_update(10))

    assert core.recordings == [b"OggS-voice"]
    (incoming,) = core.received
    assert (incoming.text, incoming.heard) == ("what's on Saturday?", "what's on Saturday?")
    assert bot.api.seen() == [core.answer]


async def test_a_recording_heard_as_nothing_gets_the_kind_answer_only() -> None:
    core = FakeCore(heard=NothingHeard(NO_WORDS))
    async with running_bot(core) as bot:
        bot.api.files["voice/AwACAgIAAxkBAAJ.oga"] = b"OggS-hiss"
        await bot.send(voice_update(10))

    assert bot.api.seen() == [NO_WORDS]
    assert core.received == []


async def test_a_recording_over_telegrams_download_limit_is_not_fetched() -> None:
    core = FakeCore()
    async with running_bot(core) as bot:
        await bot.send(voice_update(25 * 1024 * 1024))

    assert bot.api.seen() == [telegram_app.TOO_BIG.format(megabytes=25)]
    assert bot.api.named("getFile") == [] and core.recordings == []


async def test_edited_messages_are_ignored() -> None:
    core = FakeCore()
    async with running_bot(core) as bot:
        await bot.send(message_update(kind="edited_message", text="hi", edit_date=DATE + 5))

    assert [name for name, _ in bot.api.calls if name != "getMe"] == []
    assert core.received == []


async def test_html_characters_are_escaped_and_sent_as_html() -> None:
    answer = 'Team <b>sync</b> & "1:1" at 10:00 -> room <A&B>'
    async with running_bot(FakeCore(answer=answer)) as bot:
        await bot.send(text_update("next meeting?"))

    (sent,) = bot.api.named("sendMessage")
    assert sent["parse_mode"] == "HTML"
    assert "<b>" not in sent["text"]
    assert "&lt;b&gt;sync&lt;/b&gt; &amp;" in sent["text"]
    assert bot.api.seen() == [answer]


async def test_a_long_reply_full_of_html_characters_is_split_to_fit() -> None:
    lines = [f"{n:04d} <event> & <place> " + "x" * (n % 70) for n in range(300)]
    answer = "\n".join(lines) + "\n" + "<&>" * 400  # the last line is too long on its own
    answer = answer[:10_000]
    assert len(answer) == 10_000

    settings = TelegramSettings(allowed_user_ids=[OWNER])
    async with running_bot(FakeCore(answer=answer), settings) as bot:
        await bot.send(text_update("everything, please"))

    sent = bot.api.named("sendMessage")
    assert len(sent) > 3  # escaping makes it far longer than 10 000 characters
    assert all(len(params["text"]) <= 4096 for params in sent)
    assert all(params["parse_mode"] == "HTML" for params in sent)
    assert "".join(bot.api.seen()) == answer


async def test_typing_is_shown_before_the_reply() -> None:
    async with running_bot(FakeCore()) as bot:
        await bot.send(text_update("anything today?"))

    names = [name for name, _ in bot.api.calls]
    assert names.index("sendChatAction") < names.index("sendMessage")
    assert bot.api.named("sendChatAction")[0] == {"chat_id": OWNER, "action": "typing"}


async def test_typing_is_renewed_while_the_core_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "ACTION_RENEW_SECONDS", 0.01)
    async with running_bot(FakeCore(work_seconds=0.2)) as bot:
        await bot.send(text_update("slow question"))
        actions_when_done = len(bot.api.named("sendChatAction"))
        await asyncio.sleep(0.05)

    assert actions_when_done >= 3
    assert len(bot.api.named("sendChatAction")) == actions_when_done  # stopped with the reply
    assert bot.api.seen() == ["Dentist tomorrow at 10:00."]


async def test_a_failing_typing_action_does_not_stop_the_reply() -> None:
    api = FakeBotApi(failing=frozenset({"sendChatAction"}))
    async with running_bot(FakeCore(), api=api) as bot:
        await bot.send(text_update("anything today?"))

    assert bot.api.named("sendChatAction")
    assert bot.api.seen() == ["Dentist tomorrow at 10:00."]


async def test_an_error_in_the_core_gives_a_kind_sorry(caplog: pytest.LogCaptureFixture) -> None:
    core = FakeCore(error=RuntimeError("calendar exploded"))
    with caplog.at_level(logging.INFO, logger="bot.telegram.handlers"):
        async with running_bot(core) as bot:
            await bot.send(text_update("my private question"))

    assert bot.api.seen() == [SORRY]
    assert any(record.levelno == logging.ERROR for record in caplog.records)
    assert "my private question" not in caplog.text


class FullDiskJournal:
    """Each step runs, then its journal entry cannot be written: a full disk under DBOS."""

    async def step(self, name: str, action: Any, *args: Any) -> Any:
        await run_action(action, *args)
        raise sqlite3.OperationalError("database or disk is full")


async def test_on_a_full_disk_the_apology_is_sent_once() -> None:
    # The core could not remember the turn (the disk is full) and answers with its apology;
    # the apology goes out, but its journal entry fails: that must not add a second one.
    async with running_bot(FakeCore(answer=SORRY), journal=FullDiskJournal()) as bot:
        await bot.send(text_update("what's on tomorrow?"))
        await bot.send(text_update("and on Friday?"))

    assert bot.api.seen() == [SORRY, SORRY]  # one per message


async def test_an_answer_sent_before_a_failure_gets_no_apology_after_it() -> None:
    async with running_bot(FakeCore(), journal=FullDiskJournal()) as bot:
        await bot.send(text_update("what's on tomorrow?"))

    assert bot.api.seen() == ["Dentist tomorrow at 10:00."]


def test_split_message_breaks_on_lines_and_keeps_the_text() -> None:
    text = "first line\nsecond line\nthird"
    assert split_message(text, limit=12) == ["first line\n", "second line\n", "third"]
    assert split_message(text, limit=100) == [text]
    assert split_message("") == []


def test_split_message_cuts_an_overlong_line_hard_and_counts_escaping() -> None:
    pieces = split_message("&" * 10, limit=10)  # each "&" is sent as "&amp;" (5 characters)
    assert pieces == ["&&", "&&", "&&", "&&", "&&"]
    assert split_message("abcdefghij", limit=4) == ["abcd", "efgh", "ij"]


def test_split_message_counts_emoji_as_telegram_does() -> None:
    assert split_message("😀" * 4, limit=4) == ["😀😀", "😀😀"]
