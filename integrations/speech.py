"""Text to voice notes with pyttsx3 and eSpeak NG, from pip alone.

`Speaker.speak(text, language)` returns a `VoiceNote`: OGG/Opus, mono, 48 kHz. That is what
Telegram's sendVoice shows as a voice bubble; MP3 or WAV would arrive as a file. This module knows
pyttsx3, eSpeak and audio encoding, and nothing about Telegram.

How it works, and why (see also the team's voice-notes.md):
- eSpeak NG comes from the `espeakng-loader` wheel. Its library is preloaded with RTLD_GLOBAL and
  ESPEAK_DATA_PATH points at its data before pyttsx3 starts. pyttsx3 then opens
  "libespeak-ng.so.1" and gets the copy already loaded (same soname), so no apt package is needed.
- pyttsx3 2.99 is not thread-safe. Every pyttsx3 call runs on ONE thread per process (eSpeak can be
  initialised only once per process), fed by a queue. Requests from all Speakers wait their turn
  there, and results go back to the caller through futures.
- eSpeak synthesises and applies settings on its own thread, and pyttsx3 2.99 does not wait for
  it: a fresh engine's first `runAndWait()` returns before the WAV exists, and a `runAndWait()`
  issued while eSpeak is still applying the voice cancels the utterance. So the engine gets one
  empty warm-up run, each request waits for eSpeak to be idle before speaking, checks the voice
  took, waits for the finished-utterance callback (with a timeout) and checks frames > 0.
- Encoding (soxr 22 050 -> 48 000 Hz, then Opus through libsndfile) is most of the cost and
  releases the GIL. It runs in `asyncio.to_thread`, off the event loop and off the speech thread,
  so one request's encoding overlaps the next one's synthesis.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import difflib
import functools
import io
import logging
import os
import queue
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

T = TypeVar("T")

# libsndfile writes Opus only at 8/12/16/24/48 kHz; 48 kHz is Opus's native rate.
OPUS_RATE = 48_000
# Telegram language codes whose base language eSpeak files under a different code.
_LANGUAGE_ALIASES = {"zh": "cmn", "no": "nb"}


# Encoding has its own two threads: in the shared pool, eight notes held up other chats' text
# answers by a second at p99 (bench/voice_load.py).
_ENCODER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tandem-encode")


@dataclass(frozen=True)
class VoiceNote:
    ogg_opus: bytes  # OGG container, Opus codec, mono, 48 kHz: a voice bubble in sendVoice
    duration: float  # seconds
    voice: str  # the eSpeak voice id used, e.g. "gmw/en"


class SpeechError(Exception):
    """Speech could not be made. The message is fit to show to the user."""


class Speaker:
    """Turns reply text into voice notes. Cheap to create; the engine starts on first use."""

    def __init__(
        self,
        default_voice: str = "gmw/en",
        rate: int = 175,
        *,
        timeout_seconds: float = 10.0,
    ) -> None:
        # eSpeak makes 15 s of speech in about 20 ms and 4 minutes in under a second, so
        # 10 s, counted from the request, means it is stuck rather than busy.
        self.default_voice = default_voice.strip().lower()
        self.rate = rate
        self.timeout_seconds = timeout_seconds
        self._lock = threading.Lock()
        self._attached = False
        self._closed = False
        self._voices: _VoiceTable | None = None

    def voices(self) -> dict[str, str]:
        """Voice id -> name, e.g. {"gmw/en": "English (Great Britain)", "zle/ru": "Russian"}.

        The first call loads the engine on the speech thread and blocks for about 20 ms.
        """
        return dict(self._table().names)

    def validate_voice(self, voice: str) -> str | None:
        """None if eSpeak knows `voice`, else a message that names it and suggests a close match."""
        return self._table().check(voice)

    def voice_for(self, language: str | None) -> str:
        """A voice for a Telegram language_code ("ru", "pt-br", "en-GB").

        Tries the exact code, then the base language, then falls back to the default voice.
        """
        return self._table().voice_for(language, self.default_voice)

    async def speak(self, text: str, language: str | None = None) -> VoiceNote:
        """Read `text` aloud in the voice for `language`. Raises SpeechError."""
        if not text or not text.strip():
            raise SpeechError("There is no text to read out.")
        # Await the voice list here rather than calling voice_for(): the first load must not block
        # the event loop.
        table = self._voices or await asyncio.wrap_future(self._submit(_SpeechThread.voice_table))
        self._voices = table
        voice = table.voice_for(language, self.default_voice)
        if problem := table.check(voice):
            raise SpeechError(problem)
        rate, timeout = self.rate, self.timeout_seconds
        job = self._submit(lambda worker: worker.synthesise(text, voice, rate, timeout))
        try:
            # On timeout wait_for cancels the future: a request still queued is then skipped; one
            # already running finishes on the speech thread and is thrown away.
            samples, sample_rate = await asyncio.wait_for(asyncio.wrap_future(job), timeout)
        except TimeoutError:
            log.warning("no speech after %g s (voice %s, %d characters)", timeout, voice, len(text))
            raise SpeechError("Sorry, reading this reply aloud took too long.") from None
        encode = functools.partial(_encode_ogg_opus, samples, sample_rate)
        ogg_opus, duration = await asyncio.get_running_loop().run_in_executor(_ENCODER, encode)
        return VoiceNote(ogg_opus=ogg_opus, duration=duration, voice=voice)

    def close(self) -> None:
        """Stop using the speech thread. It ends after its queue once no Speaker is using it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            attached, self._attached = self._attached, False
        if attached:
            _SPEECH_THREAD.detach()

    def _table(self) -> _VoiceTable:
        # Cached: the voices never change, and going through the queue again would make a quick
        # lookup wait behind every request queued for speech.
        if self._voices is None:
            self._voices = self._submit(_SpeechThread.voice_table).result()
        return self._voices

    def _submit(self, work: Callable[[_SpeechThread], T]) -> Future[T]:
        with self._lock:
            if self._closed:
                raise SpeechError("Voice replies are switched off.")
            if not self._attached:
                _SPEECH_THREAD.attach()
                self._attached = True
        return _SPEECH_THREAD.submit(work)


@dataclass(frozen=True)
class _VoiceTable:
    names: dict[str, str]  # voice id -> name
    by_language: dict[str, str]  # "ru", "en-gb", "pt-br", ... -> voice id

    @classmethod
    def from_pyttsx3(cls, voices: list[Any]) -> _VoiceTable:
        names = {v.id.lower(): v.name for v in voices}
        by_language: dict[str, str] = {}
        # The id's last part first ("gmw/en" -> "en"): "en" should mean gmw/en, not whichever
        # voice happens to list "en" among its languages.
        for v in voices:
            by_language.setdefault(v.id.lower().rsplit("/", 1)[-1], v.id.lower())
        for v in voices:
            for lang in v.languages or []:
                if isinstance(lang, str) and lang:
                    by_language.setdefault(lang.lower(), v.id.lower())
        return cls(names, by_language)

    def check(self, voice: str) -> str | None:
        wanted = voice.strip().lower()
        if wanted in self.names:
            return None
        if wanted in self.by_language:  # a language code such as "ru" rather than a voice id
            return f'Unknown voice "{voice}". Did you mean "{self.by_language[wanted]}"?'
        # Suggest from ids and names alike, so "russian" leads to zle/ru.
        candidates = {vid: vid for vid in self.names}
        candidates |= {name.lower(): vid for vid, name in self.names.items()}
        close = difflib.get_close_matches(wanted, list(candidates), n=5, cutoff=0.6)
        # Ties are common ("gmw/engl" is as close to gmw/nl as to gmw/en); difflib would break
        # them alphabetically, so prefer the candidate sharing the longest start with the typo.
        close.sort(key=lambda c: _shared_start(wanted, c), reverse=True)
        hint = f' Did you mean "{candidates[close[0]]}"?' if close else ""
        return f'Unknown voice "{voice}".{hint}'

    def voice_for(self, language: str | None, default: str) -> str:
        if not language or not language.strip():
            return default
        code = language.strip().lower().replace("_", "-")
        if code in self.by_language:
            return self.by_language[code]
        base = code.split("-", 1)[0]
        # Keep the configured default when it already speaks this language: a default of
        # gmw/en-us should not turn into British English just because the user's app says "en-CA".
        if default.rsplit("/", 1)[-1].split("-", 1)[0] == base:
            return default
        for key in (base, _LANGUAGE_ALIASES.get(base)):
            if key and key in self.by_language:
                return self.by_language[key]
        return default


def _shared_start(a: str, b: str) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


@dataclass
class _Utterance:
    """What eSpeak's thread reports about the utterance in progress."""

    finished: threading.Event = field(default_factory=threading.Event)
    completed: bool = False
    errors: list[str] = field(default_factory=list)


class _SpeechThread:
    """The one thread in the process that calls pyttsx3, and the engine it owns."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._thread: threading.Thread | None = None
        self._jobs: queue.SimpleQueue[tuple[Callable[[_SpeechThread], Any], Future[Any]] | None]
        self._jobs = queue.SimpleQueue()
        # Everything below is touched only on the speech thread. It outlives a stopped thread,
        # because eSpeak cannot be initialised twice in one process.
        self._engine: Any = None
        self._retired: list[Any] = []
        self._voices: _VoiceTable | None = None
        self._utterance = _Utterance()

    # --- any thread -------------------------------------------------------------------------

    def attach(self) -> None:
        with self._lock:
            self._users += 1
            if self._thread is None:
                self._jobs = queue.SimpleQueue()
                self._thread = threading.Thread(
                    target=self._run, args=(self._jobs,), name="tandem-speech", daemon=True
                )
                self._thread.start()

    def detach(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users or self._thread is None:
                return
            self._jobs.put(None)
            # Join while holding the lock: a new thread must not start while this one still
            # works through its queue, or two threads would drive the engine at once.
            self._thread.join()
            self._thread = None

    def submit(self, work: Callable[[_SpeechThread], T]) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((work, future))
        return future

    # --- speech thread only ---------------------------------------------------------------------

    def _run(self, jobs: queue.SimpleQueue[Any]) -> None:
        while (job := jobs.get()) is not None:
            work, future = job
            if not future.set_running_or_notify_cancel():
                continue  # the caller gave up while it was queued
            try:
                result = work(self)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

    def voice_table(self) -> _VoiceTable:
        if self._voices is None:
            self._voices = _VoiceTable.from_pyttsx3(self._get_engine().getProperty("voices"))
        return self._voices

    def synthesise(
        self, text: str, voice: str, rate: int, timeout: float
    ) -> tuple[np.ndarray, int]:
        """Speak `text` into a WAV of its own and return its samples (int16) and sample rate."""
        engine = self._get_engine()
        fd, path = tempfile.mkstemp(prefix="tandem-voice-", suffix=".wav")
        os.close(fd)
        try:
            self._speak_to_file(engine, text, voice, rate, path, timeout)
            return _read_wav(path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _speak_to_file(
        self, engine: Any, text: str, voice: str, rate: int, path: str, timeout: float
    ) -> None:
        utterance = self._utterance = _Utterance()
        deadline = time.monotonic() + timeout
        # Voice first, then rate: setting a voice resets the rate.
        engine.setProperty("voice", voice)
        engine.setProperty("rate", rate)
        # eSpeak applies both on its own thread. Until it has, it counts as "playing", and the
        # endLoop that runAndWait queues would cancel the utterance (260 of 300 were cut off).
        if not _wait_until_idle(deadline):
            self._fail(voice, "eSpeak stayed busy")
        if (current := engine.getProperty("voice")) != voice:
            # pyttsx3 ignores a voice it cannot set; the text would be read in the previous one.
            self._fail(voice, f"the voice in use is {current}")
        engine.save_to_file(text, path)
        # After the warm-up in _get_engine, runAndWait returns when the utterance ends. It cannot
        # be interrupted: calling engine.stop() from a watchdog thread deadlocked in espeak_Cancel.
        # speak() bounds the caller's wait instead.
        try:
            engine.runAndWait()
        except RuntimeError as exc:  # "run loop already started", after an earlier failure
            self._fail(voice, str(exc))
        finished = utterance.finished.wait(max(0.0, deadline - time.monotonic()))
        if utterance.errors:
            self._fail(voice, "; ".join(utterance.errors))
        if not finished:
            self._fail(voice, f"no audio after {timeout:g} s")
        if not utterance.completed:
            self._fail(voice, "the utterance was cut short")

    def _fail(self, voice: str, problem: str) -> NoReturn:
        log.warning("speech failed in voice %s: %s", voice, problem)
        self._retire_engine()
        raise SpeechError("Sorry, I could not read this reply aloud.")

    def _get_engine(self) -> Any:
        if self._engine is None:
            engine = _start_engine()
            engine.connect("finished-utterance", self._on_finished)
            engine.connect("error", self._on_error)
            # One empty run, once eSpeak has applied the driver's initial settings. A new engine
            # counts as busy, so its first runAndWait would queue our settings, cancel them and
            # return before the WAV exists. Afterwards each setting applies at once and every
            # runAndWait lasts until its utterance ends.
            _wait_until_idle(time.monotonic() + 5.0)
            engine.runAndWait()
            self._engine = engine
        return self._engine

    def _retire_engine(self) -> None:
        """Put aside an engine that failed; the next request builds a fresh one.

        A pyttsx3 engine keeps state across utterances (a pending "stop" flag cancels the next
        one), so after a failure it cannot be trusted. The old engine is kept alive on purpose:
        when pyttsx3 collects an engine, it clears eSpeak's callback, which would silence the
        new engine.
        """
        engine, self._engine = self._engine, None
        if engine is None:
            return
        with contextlib.suppress(Exception):
            engine.stop()  # espeak_Cancel returns once synthesis has stopped
        self._retired.append(engine)

    # pyttsx3 calls these two on eSpeak's own thread.
    def _on_finished(self, name: str | None = None, completed: bool = True, **_: Any) -> None:
        self._utterance.completed = completed
        self._utterance.finished.set()

    def _on_error(self, name: str | None = None, exception: Any = None, **_: Any) -> None:
        self._utterance.errors.append(str(exception))


_SPEECH_THREAD = _SpeechThread()


def _start_engine() -> Any:
    """Load eSpeak NG from the espeakng-loader wheel and start pyttsx3 on it."""
    try:
        import espeakng_loader

        # The data must match the library's version, so point at the wheel's data even if the
        # environment names another. Setting LD_LIBRARY_PATH now would have no effect; preloading
        # with RTLD_GLOBAL does, since pyttsx3 then finds "libespeak-ng.so.1" already loaded.
        os.environ["ESPEAK_DATA_PATH"] = espeakng_loader.get_data_path()
        ctypes.CDLL(espeakng_loader.get_library_path(), mode=ctypes.RTLD_GLOBAL)

        import pyttsx3
        import pyttsx3.drivers.espeak as espeak_driver

        # The driver prints "Audio saved to <path>" for every file. It prints from eSpeak's own
        # thread, so redirecting stdout on the speech thread would miss it, and redirecting fd 1
        # or sys.stdout would swallow every other thread's output too. Shadowing `print` in the
        # driver module's namespace silences that module alone.
        espeak_driver.print = _driver_print  # type: ignore[attr-defined]
        # pyttsx3.Engine rather than pyttsx3.init(): init() would hand back a retired engine.
        return pyttsx3.Engine("espeak")
    except Exception as exc:
        log.exception("could not start eSpeak NG")
        raise SpeechError(
            "Voice replies are unavailable: the speech engine did not start."
        ) from exc


def _driver_print(*args: object, **_: object) -> None:
    log.debug("pyttsx3: %s", " ".join(map(str, args)))


def _wait_until_idle(deadline: float) -> bool:
    # pyttsx3 has no public way to ask; its ctypes binding of espeak_IsPlaying is the next best.
    from pyttsx3.drivers import _espeak

    while _espeak.IsPlaying():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.0005)
    return True


def _read_wav(path: str) -> tuple[np.ndarray, int]:
    try:
        with wave.open(path, "rb") as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
            channels, width = wav.getnchannels(), wav.getsampwidth()
            data = wav.readframes(frames)
    except (OSError, EOFError, wave.Error) as exc:
        log.warning("unreadable WAV from pyttsx3: %s", exc)
        raise SpeechError("Sorry, I could not read this reply aloud.") from exc
    if frames <= 0 or width != 2:
        log.warning("bad WAV from pyttsx3: %d frames, %d-byte samples", frames, width)
        raise SpeechError("Sorry, I could not read this reply aloud.")
    import numpy as np

    samples = np.frombuffer(data, dtype="<i2").reshape(-1, channels)
    return samples, rate


def _encode_ogg_opus(samples: np.ndarray, rate: int) -> tuple[bytes, float]:
    """int16 PCM -> (OGG/Opus mono 48 kHz bytes, duration). Runs in a worker thread."""
    import numpy as np
    import soundfile
    import soxr

    mono = samples.astype(np.float32).mean(axis=1) / 32768.0
    resampled = soxr.resample(mono, rate, OPUS_RATE)
    buffer = io.BytesIO()
    try:
        # libsndfile's default Opus bitrate (about 60 kb/s): lower bitrates make libopus switch to
        # its speech modes, which took 2.3 times as long to encode for a file half the size.
        soundfile.write(
            buffer, np.clip(resampled, -1.0, 1.0), OPUS_RATE, format="OGG", subtype="OPUS"
        )
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
        log.exception("Opus encoding failed")
        raise SpeechError("Sorry, I could not read this reply aloud.") from exc
    return buffer.getvalue(), len(resampled) / OPUS_RATE
