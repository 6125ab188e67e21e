"""What a new user meets in their first hour on Telegram: small talk, modes without a key,
voice notes that do not hold up the text, and answers that say which question they answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.core import Assistant
from bot.small_talk import small_talk
from integrations.speech import VoiceNote
from tests.conftest import CountingCalendar
from tests.test_telegram import running_bot, text_update

pytestmark = pytest.mark.anyio

OUT_OF_SCOPE = "That's outside what my rules cover."


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def chat(assistant: Assistant, *said: str) -> list[str]:
    """What the person reads back, a message at a time, for what they said in Telegram."""
    async with running_bot(assistant) as bot:  # type: ignore[arg-type]
        for words in said:
            await bot.send(text_update(words))
    return bot.api.seen()


@pytest.mark.parametrize(
    "said",
    ["thanks!", "hi", "Hello", "good morning", "ok", "cheers", "Thank you so much 🙏",
     "ok cool, thanks", "hey there", "bye!", "👍", "Good evening, Tandem"],
)  # fmt: skip
async def test_small_talk_gets_one_friendly_line(
    said: str, make_assistant: Callable[..., Assistant], week: CountingCalendar
) -> None:
    (reply,) = await chat(make_assistant(week), said)
    assert OUT_OF_SCOPE not in reply
    assert "\n" not in reply
    assert week.calls == 0


async def test_each_kind_of_small_talk_gets_its_own_answer(
    make_assistant: Callable[..., Assistant], week: CountingCalendar
) -> None:
    replies = await chat(make_assistant(week), "thanks!", "good morning", "ok", "bye")
    assert replies[0] == "You're welcome!"
    assert replies[1].startswith("Good morning! Ask me about your calendar")
    assert replies[2].startswith("Okay!")
    assert replies[3].startswith("Bye for now!")


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("hi, what's on tomorrow?", "Tennis match with Sam"),
        ("hey Tandem! will it rain at my tennis match?", "Tennis match with Sam"),
        ("thanks! and what's on Saturday?", "Parkrun"),
        ("ok, when is my next dentist appointment?", "Dentist"),
    ],
)
async def test_a_question_with_a_greeting_is_still_answered(
    question: str, answer: str, make_assistant: Callable[..., Assistant], week: CountingCalendar
) -> None:
    (reply,) = await chat(make_assistant(week), question)
    assert answer in reply


@pytest.mark.parametrize(
    "words",
    ["hi, what's on tomorrow?", "good morning, any meetings?", "thanks for nothing, the "
     "calendar is wrong", "ok", "how are you?", "what's up", "can you book a table?", ""],
)  # fmt: skip
def test_small_talk_is_only_messages_made_of_small_talk(words: str) -> None:
    is_small_talk = words in ("ok", "how are you?", "what's up")
    assert (small_talk(words) is not None) == is_small_talk


async def test_hybrid_without_a_key_gives_the_rules_honest_reply(
    make_assistant: Callable[..., Assistant], week: CountingCalendar
) -> None:
    replies = await chat(make_assistant(week), "/mode hybrid", "how tall is the eiffel tower?")
    assert "No ANTHROPIC_API_KEY is set" in replies[0]
    assert replies[1].startswith(OUT_OF_SCOPE)
    assert "needs an Anthropic API key" not in replies[1]


async def test_switching_to_agent_without_a_key_warns_at_once(
    make_assistant: Callable[..., Assistant], week: CountingCalendar
) -> None:
    (switched,) = await chat(make_assistant(week), "/mode agent")
    assert switched.startswith("Mode: agent")
    assert "No ANTHROPIC_API_KEY is set, so agent mode cannot answer yet." in switched
    (back,) = await chat(make_assistant(week), "/mode workflow")
    assert "ANTHROPIC_API_KEY" not in back


class SlowSpeaker:
    """A speaker that finishes only when told to, as eSpeak and Opus take a while."""

    def __init__(self) -> None:
        self.started, self.finish = asyncio.Event(), asyncio.Event()

    async def speak(self, text: str, language: str | None = None) -> VoiceNote:
        self.started.set()
        await self.finish.wait()
        return VoiceNote(b"OggS-fake-opus", 4.2, "gmw/en")


async def test_with_voice_on_the_text_comes_at_once_and_the_voice_note_when_ready(
    make_assistant: Callable[..., Assistant], week: CountingCalendar
) -> None:
    assistant = make_assistant(week)
    speaker = SlowSpeaker()
    assistant.voice.speaker = speaker  # type: ignore[assignment]
    async with running_bot(assistant) as bot:  # type: ignore[arg-type]
        await bot.send(text_update("/voice always"))
        answering = asyncio.create_task(bot.send(text_update("what's on tomorrow?")))
        await speaker.started.wait()
        # The voice note is still being made: the text is already there.
        assert "Tennis match with Sam" in bot.api.seen()[-1]
        assert bot.api.named("sendVoice") == []
        actions = [params["action"] for params in bot.api.named("sendChatAction")]
        assert actions[-1] == "upload_voice"
        speaker.finish.set()
        await answering

    (voice,) = bot.api.named("sendVoice")
    assert voice["duration"] == 4
    sent = [name for name, _ in bot.api.calls if name in ("sendMessage", "sendVoice")]
    assert sent[-2:] == ["sendMessage", "sendVoice"]
