"""Asking by voice, end to end: the real `tandem run` against the fake Bot API.

Users send voice notes made by Tandem's own speech (OGG/Opus, 48 kHz, mono, as Telegram sends
them); Tandem fetches each with getFile, hears it with Whisper tiny.en (from the test extra, no hub)
and answers as if the question had been typed.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import soundfile
import yaml

from integrations.listen import NO_WORDS
from tests import test_end_to_end
from tests.conftest import EXAMPLE
from tests.test_cli import tandem
from tests.test_end_to_end import (
    FRIEND,
    LISTEN_SECONDS,
    OWNER,
    PARTNER,
    FakeTelegram,
    barrier,
    replies,
    texts,
    wait_until,
)
from tests.voice_clips import TEST_MODEL, recording, silence, spoken

# The Bot API fake and `tandem run` serving it, as in the other end-to-end tests.
telegram = test_end_to_end.telegram
bot = test_end_to_end.bot


@pytest.fixture(autouse=True)
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the model and hearing take seconds on a busy two-core machine: wait longer."""
    monkeypatch.setattr(test_end_to_end, "WAIT_SECONDS", 60.0)


@pytest.fixture(scope="module")
def notes() -> dict[str, bytes]:
    questions = ["What's on Saturday?", "When is my next dentist appointment?"]
    return dict(zip(questions, spoken(*questions), strict=True))


def send(telegram: FakeTelegram, user_id: int, audio: bytes, kind: str = "voice", **more) -> None:
    seconds = soundfile.info(io.BytesIO(audio)).duration
    recording = {"data_base64": base64.b64encode(audio).decode(), "duration": round(seconds)}
    telegram.message(user_id, **{kind: {**recording, **more}})


def test_a_voice_question_gets_the_calendar_answer_with_what_was_heard_first(telegram, bot, notes):
    send(telegram, OWNER, notes["What's on Saturday?"])
    [reply] = replies(telegram, OWNER, bot)
    heard, _, answer = reply.partition("\n\n")
    assert heard.startswith("🎙 ") and "saturday" in heard.lower(), reply
    # On a Friday the heading is "Tomorrow, Saturday …": the day and its event are what count.
    heading = answer.partition("\n")[0]
    assert "Saturday" in heading and "Parkrun" in answer, reply + bot.explain()

    barrier(telegram, bot)
    sent = telegram.sent(OWNER)
    assert texts(sent) == [reply]
    assert "sendVoice" not in {s["method"] for s in sent}


def test_inbound_voice_mode_answers_a_voice_note_with_a_voice_note(telegram, bot, notes):
    telegram.message(PARTNER, "/voice inbound")
    [mode] = replies(telegram, PARTNER, bot)
    assert mode.startswith("Voice replies: inbound")

    send(telegram, PARTNER, notes["When is my next dentist appointment?"])
    voice = wait_until(
        lambda: [s for s in telegram.sent(PARTNER) if s["method"] == "sendVoice"],
        "a voice note",
        bot,
    )[0]
    answer = texts(telegram.sent(PARTNER))[1]
    assert "Dentist check-up with Dr. Patel" in answer, answer
    ogg = base64.b64decode(voice["voice"]["data_base64"])
    assert soundfile.info(io.BytesIO(ogg)).subtype == "OPUS"

    telegram.message(PARTNER, "what's on Saturday?")  # typed: answered in text only
    replies(telegram, PARTNER, bot, count=3)
    barrier(telegram, bot)
    assert [s["method"] for s in telegram.sent(PARTNER)].count("sendVoice") == 1


def test_an_audio_file_sent_as_a_document_is_heard_too(telegram, bot, notes):
    samples, rate = soundfile.read(io.BytesIO(notes["What's on Saturday?"]), dtype="float32")
    wav = recording(samples, rate, "WAV")
    send(telegram, FRIEND, wav, kind="document", mime_type="audio/wav", file_name="q.wav")
    [reply] = replies(telegram, FRIEND, bot)
    assert reply.startswith("🎙 ") and "Parkrun" in reply, reply + bot.explain()


def test_silence_and_a_too_long_note_get_their_kind_replies(telegram, bot):
    send(telegram, OWNER, silence(2))
    assert replies(telegram, OWNER, bot) == [NO_WORDS]

    send(telegram, OWNER, recording(np.zeros(8 * 48_000)))
    too_long = replies(telegram, OWNER, bot, count=2)[-1]
    assert too_long.startswith(f"That recording is 8 s long; I listen to up to {LISTEN_SECONDS} s.")


def test_the_terminal_asks_with_a_recording(tmp_path, notes):
    settings = yaml.safe_load(EXAMPLE.read_text())
    settings["calendars"][0]["path"] = str(EXAMPLE.parent / settings["calendars"][0]["path"])
    settings["listen"] = {"model": str(TEST_MODEL)}
    config = tmp_path / "tandem.yaml"
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    question = tmp_path / "question.ogg"
    question.write_bytes(notes["When is my next dentist appointment?"])

    result = tandem("ask", "--voice-in", str(question), "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    heard, answer = result.stdout.split("\n\n", 1)
    assert heard.startswith("🎙 ") and "dentist appointment" in heard
    # Whisper's punctuation may shape the reply's wording; the event and its day are the answer.
    assert "Dentist check-up" in answer and "Thursday" in answer, answer

    question.write_bytes(silence(1))
    result = tandem("ask", "--voice-in", str(question), "--config", str(config), cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", NO_WORDS + "\n")
