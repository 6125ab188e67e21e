"""Voice notes made for real with pyttsx3 and eSpeak NG, then decoded back and checked.

Each note must be what Telegram shows as a voice bubble (OGG, Opus, mono, 48 kHz), last about as
long as its text takes to say, and not be silence. About 5 s on two cores.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from integrations.speech import Speaker, SpeechError, VoiceNote

REPLY_300 = (
    "Tomorrow starts with the team stand-up at half past nine, online. After that you are free "
    "until lunch with Priya at one at the Italian place on Fleet Street. At four there is the "
    "quarterly review in room two. In the evening you play tennis with Sam at Regent's Park, "
    "so pack your racket and some water."
)
SENTENCES = [
    "Your next meeting is at ten.",
    "It is the weekly planning session with the design team.",
    "Bring the notes from last week.",
    "After that, lunch is at noon with Alex near the office.",
    "The dentist moved your check-up to Thursday morning.",
    "On Friday you have nothing booked at all.",
    "Saturday is the tennis match with Sam at half past six in Regent's Park.",
    "Sunday is free, so enjoy a quiet day at home.",
]
RUSSIAN = "Завтра в десять утра у вас встреча с командой, а вечером теннис с Сашей в парке."
PORTUGUESE = "Amanhã às dez horas você tem uma reunião com a equipe de design."


@pytest.fixture(scope="module")
def speaker() -> Iterator[Speaker]:
    speaker = Speaker()
    yield speaker
    speaker.close()


def decode(note: VoiceNote) -> np.ndarray:
    """Check the container and codec Telegram needs for a bubble; return the samples."""
    info = soundfile.info(io.BytesIO(note.ogg_opus))
    assert (info.format, info.subtype) == ("OGG", "OPUS")
    assert info.channels == 1
    assert info.samplerate == 48_000
    samples, rate = soundfile.read(io.BytesIO(note.ogg_opus), dtype="float32")
    assert rate == 48_000
    assert abs(len(samples) / rate - note.duration) < 0.1
    return samples


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples))))


async def test_english_reply_becomes_a_voice_bubble(speaker: Speaker) -> None:
    assert 290 <= len(REPLY_300) <= 310
    note = await speaker.speak(REPLY_300)
    samples = decode(note)
    assert note.voice == "gmw/en"
    assert 10 <= note.duration <= 40
    assert rms(samples) > 0.02  # speech, not silence


async def test_eight_notes_at_once_each_match_their_own_text(speaker: Speaker) -> None:
    texts = [" ".join(SENTENCES[: k + 1]) for k in range(len(SENTENCES))]
    # One at a time first, for reference lengths. eSpeak's output differs only by a few ms
    # from run to run, so a note that swapped text or audio with another would stand out.
    alone = [(await speaker.speak(text)).duration for text in texts]
    together = await asyncio.gather(*(speaker.speak(text) for text in texts))
    for text, expected, note in zip(texts, alone, together, strict=True):
        assert rms(decode(note)) > 0.02
        assert abs(note.duration - expected) < 0.1, text
        assert len(text) / 30 < note.duration < len(text) / 8
    assert alone == sorted(alone)  # longer text, longer note


async def test_russian_text_is_read_by_a_russian_voice(speaker: Speaker) -> None:
    russian = await speaker.speak(RUSSIAN, language="ru")
    assert russian.voice == "zle/ru"
    assert rms(decode(russian)) > 0.02
    # The English voice spells Cyrillic letter by letter, which takes far longer.
    english = await speaker.speak(RUSSIAN, language="en")
    assert russian.duration < 0.6 * english.duration


async def test_brazilian_portuguese(speaker: Speaker) -> None:
    assert speaker.voice_for("pt-BR") == "roa/pt-br"
    note = await speaker.speak(PORTUGUESE, language="pt-BR")
    assert note.voice == "roa/pt-br"
    decode(note)


def test_language_codes_map_to_voices(speaker: Speaker) -> None:
    assert speaker.voice_for("ru") == "zle/ru"
    assert speaker.voice_for("pt") == "roa/pt"
    assert speaker.voice_for("en-GB") == "gmw/en"
    assert speaker.voice_for("en-us") == "gmw/en-us"
    assert speaker.voice_for("de-AT") == "gmw/de"  # no Austrian voice: base language
    assert speaker.voice_for("xx") == "gmw/en"  # unknown: the default
    assert speaker.voice_for("") == "gmw/en"
    assert speaker.voice_for(None) == "gmw/en"


def test_a_default_that_speaks_the_language_is_kept() -> None:
    american = Speaker(default_voice="gmw/en-us")
    try:
        assert american.voice_for("en-CA") == "gmw/en-us"
        assert american.voice_for("en-GB") == "gmw/en"
    finally:
        american.close()


async def test_unknown_language_uses_the_default(speaker: Speaker) -> None:
    note = await speaker.speak("Hello there.", language="xx")
    assert note.voice == "gmw/en"


def test_validate_voice(speaker: Speaker) -> None:
    assert speaker.validate_voice("gmw/en") is None
    assert speaker.validate_voice("zle/ru") is None
    message = speaker.validate_voice("gmw/engl")
    assert message is not None
    assert "gmw/engl" in message
    assert '"gmw/en"' in message
    assert '"zle/ru"' in (speaker.validate_voice("ru") or "")
    assert len(speaker.voices()) > 100
    assert speaker.voices()["zle/ru"] == "Russian"


@pytest.mark.parametrize("text", ["", "   \n"])
async def test_empty_text_is_refused(speaker: Speaker, text: str) -> None:
    with pytest.raises(SpeechError):
        await speaker.speak(text)


async def test_unknown_default_voice_is_named() -> None:
    typo = Speaker(default_voice="gmw/engl")
    try:
        with pytest.raises(SpeechError, match=r'"gmw/engl".*"gmw/en"'):
            await typo.speak("Hello.")
    finally:
        typo.close()


async def test_a_timed_out_request_does_not_break_the_next(speaker: Speaker) -> None:
    hasty = Speaker(timeout_seconds=0.05)
    try:
        with pytest.raises(SpeechError, match="too long"):
            await hasty.speak("This sentence goes on and on and on. " * 100)
    finally:
        hasty.close()
    note = await speaker.speak("Back to normal.")
    assert 0.5 < note.duration < 3


async def test_pyttsx3_prints_nothing(speaker: Speaker, capfd: pytest.CaptureFixture[str]) -> None:
    await speaker.speak("Quiet, please.")
    print("the bot's own output still shows")
    out = capfd.readouterr().out
    assert "Audio saved" not in out
    assert "the bot's own output still shows" in out


async def test_a_closed_speaker_refuses() -> None:
    closed = Speaker()
    closed.close()
    with pytest.raises(SpeechError):
        await closed.speak("Hello.")


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_espeak_comes_from_the_wheel_not_the_system(speaker: Speaker) -> None:
    import espeakng_loader

    speaker.voices()  # makes sure the engine is loaded
    loaded = {
        line.split()[-1]
        for line in Path("/proc/self/maps").read_text().splitlines()
        if "espeak" in line
    }
    assert loaded == {os.path.realpath(espeakng_loader.get_library_path())}
