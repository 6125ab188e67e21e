"""When replies are spoken, what is spoken, and how a voice note reaches Telegram."""

from __future__ import annotations

import pytest

from bot.engine.journal import Immediate
from bot.messages import Incoming, Reply
from bot.telegram.outbox import Outbox
from integrations.speech import SpeechError, VoiceNote
from tests.conftest import CountingCalendar, at, event
from tests.test_telegram import OWNER, FakeBotApi, FakeCore, running_bot, text_update


class FakeSpeaker:
    def __init__(self, fails: bool = False) -> None:
        self.spoken: list[tuple[str, str | None]] = []
        self.fails = fails

    async def speak(self, text: str, language: str | None = None) -> VoiceNote:
        self.spoken.append((text, language))
        if self.fails:
            raise SpeechError("The speech engine did not finish in time.")
        return VoiceNote(b"OggS-fake-opus", len(text) / 15, "gmw/en")


@pytest.fixture
def speaker() -> FakeSpeaker:
    return FakeSpeaker()


@pytest.fixture
def assistant(make_assistant, week, speaker):
    made = make_assistant(week)
    made.voice.speaker = speaker
    return made


async def ask(assistant, text: str, language: str | None = None) -> Reply:
    return await assistant.handle(Incoming(5, 5, text, language=language))


async def test_on_request_by_default_so_a_plain_question_is_text_only(assistant, speaker):
    reply = await ask(assistant, "What's on tomorrow?")
    assert reply.voice is None
    assert speaker.spoken == []


async def test_say_command_speaks_the_answer_and_keeps_the_text(assistant, speaker):
    reply = await ask(assistant, "/say What's on tomorrow?")
    assert reply.text.startswith("Tomorrow, Thursday 26 November:")
    assert reply.voice is not None and not reply.voice_only
    assert speaker.spoken[0][0].startswith("Tomorrow, Thursday 26 November:")
    assert "•" not in speaker.spoken[0][0]


async def test_a_request_phrase_speaks_and_is_not_part_of_the_question(assistant, speaker):
    reply = await ask(assistant, "What's on tomorrow? Read it to me.")
    assert reply.voice is not None
    assert "Tennis match with Sam" in reply.text
    assert assistant.memory.recent(5)[0].text == "What's on tomorrow?"


async def test_the_chat_voice_mode_is_kept_across_restarts(
    assistant, make_assistant, week, speaker
):
    assert (await ask(assistant, "/voice always")).text.startswith("Voice replies: always")
    restarted = make_assistant(week)
    restarted.voice.speaker = speaker
    assert (await ask(restarted, "What's on tomorrow?")).voice is not None
    assert (await ask(restarted, "/voice")).text.startswith("Voice replies: always")
    await ask(restarted, "/voice off")
    assert (await ask(restarted, "/say What's on tomorrow?")).voice is None


async def test_an_unknown_voice_mode_is_explained(assistant):
    reply = await ask(assistant, "/voice loud")
    assert reply.text == (
        "I don't know the voice mode “loud”. "
        "Change it with /voice off, /voice always, /voice on_request or /voice inbound."
    )


async def test_the_voice_follows_the_users_language(assistant, speaker):
    await ask(assistant, "/say What's on tomorrow?", language="ru")
    await ask(assistant, "/say What's on tomorrow?")
    assert [language for _, language in speaker.spoken] == ["ru", "en"]


async def test_a_long_reply_is_spoken_short_and_sent_whole(make_assistant, speaker):
    busy = CountingCalendar(
        [event(f"Meeting number {n} about the budget", at(26, 8 + n), 30) for n in range(10)]
    )
    assistant = make_assistant(busy)
    assistant.voice.speaker = speaker
    reply = await ask(assistant, "/say What's on tomorrow?")
    spoken = speaker.spoken[0][0]
    assert len(reply.text) > 400
    assert len(spoken) <= 400 + len(" The full answer is in the message.")
    assert spoken.endswith("The full answer is in the message.")


async def test_when_speech_fails_the_text_still_goes_out(assistant, speaker):
    speaker.fails = True
    reply = await ask(assistant, "/say What's on tomorrow?")
    assert reply.voice is None
    assert "Tennis match with Sam" in reply.text
    assert reply.steps[-1].detail == {"error": "The speech engine did not finish in time."}


async def test_telegram_gets_a_voice_bubble_with_its_duration_after_the_text():
    api = FakeBotApi()
    note = VoiceNote(b"OggS-fake-opus", 12.6, "gmw/en")
    async with running_bot(FakeCore(), api=api) as bot:
        outbox = Outbox(bot.application.bot, Immediate())
        await outbox.deliver(OWNER, Reply("Tennis at 18:30.", voice=note))

    assert api.seen() == ["Tennis at 18:30."]
    assert api.named("sendVoice")[0]["duration"] == 13
    uploaded = api.voices[0]["voice"]
    assert uploaded[0] == "reply.ogg" and uploaded[1] == b"OggS-fake-opus"


async def test_voice_only_sends_no_text():
    api = FakeBotApi()
    note = VoiceNote(b"OggS-fake-opus", 3.0, "gmw/en")
    async with running_bot(FakeCore(), api=api) as bot:
        outbox = Outbox(bot.application.bot, Immediate())
        await outbox.deliver(OWNER, Reply("x", voice=note, voice_only=True))
    assert api.seen() == []
    assert len(api.named("sendVoice")) == 1


async def test_say_through_telegram_reaches_the_core(assistant, speaker):
    async with running_bot(assistant) as bot:
        await bot.send(text_update("/say What's on tomorrow?"))
    assert len(bot.api.named("sendVoice")) == 1
    assert "Tennis match with Sam" in bot.api.seen()[0]


async def test_inbound_mode_answers_a_voice_question_by_voice_and_a_typed_one_in_text(
    assistant, speaker
):
    assert (await ask(assistant, "/voice inbound")).text.startswith("Voice replies: inbound")
    heard = "What's on tomorrow?"
    spoken_to = await assistant.handle(Incoming(5, 5, heard, heard=heard))
    assert spoken_to.text.startswith("🎙 What's on tomorrow?\n\nTomorrow, Thursday 26 November:")
    assert spoken_to.voice is not None
    assert speaker.spoken[0][0].startswith("Tomorrow, Thursday")  # the answer, not the 🎙 line

    typed = await ask(assistant, "What's on tomorrow?")
    assert typed.voice is None and not typed.text.startswith("🎙")
    assert (await ask(assistant, "/say What's on tomorrow?")).voice is not None


async def test_a_voice_question_is_remembered_as_what_was_heard(assistant):
    heard = "What's on tomorrow?"
    await assistant.handle(Incoming(5, 5, heard, heard=heard))
    user, answer = assistant.memory.recent(5)
    assert user.text == heard and answer.text.startswith("Tomorrow, Thursday")
