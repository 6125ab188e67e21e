"""Speech to text, offline: audio in (a Telegram voice note, or any common audio file), text out.

`Listener.transcribe(audio, hints)` returns what was said, or raises a `ListenError` whose message
is fit to show to the user (too long, no words, unreadable audio, not installed). It knows audio
and the speech engine, and nothing about Telegram or calendars.

The engine is faster-whisper (Whisper on CTranslate2), from the optional extra
`pip install -e '.[listen]'`; without it every call raises `ListenUnavailable`, which says how to
install it. How it works, and why:
- The audio is decoded with PyAV (bundled in faster-whisper's dependencies) to 16 kHz mono. The
  container's own duration is checked first, and decoding stops as soon as `max_seconds` is
  passed, so a long recording costs no more than `max_seconds` of decoding.
- A recording with no sound above a whisper (silence) never reaches the model; noise is removed
  by Silero voice activity detection (shipped with faster-whisper), and segments Whisper itself
  marks as no speech are dropped. Both end in `NothingHeard`.
- `hints` (names from the user's calendar) become Whisper's initial prompt: words it has seen
  there it spells the same way ("Priya", not "video"); on our clips this halved the errors.
- Transcription runs on the Listener's own bounded pool of threads, off the event loop (CTranslate2
  releases the GIL), at a lower CPU priority, so text answers in other chats come first; past
  WAITING_PER_WORKER recordings waiting per thread, more are told to come back.
- The model is loaded on first use; a model given by name is fetched then (with a progress bar
  in the terminal), a local folder works offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
import os
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

T = TypeVar("T")

SAMPLE_RATE = 16_000  # what Whisper listens at
SILENCE_PEAK = 0.01  # a recording whose loudest sample is below this (-40 dBFS) holds no words
NO_SPEECH = (
    0.6  # Whisper's own threshold: such a segment, with a low log-probability, is not speech
)
LOW_LOGPROB = -1.0
PROMPT_CHARS = 600  # Whisper keeps at most 223 prompt tokens; names beyond this would be cut
WAITING_PER_WORKER = 8  # more recordings than this waiting per thread: say "busy" instead
LISTEN_NICE = 10  # lower priority than the event loop's thread (bench/listen.py)
INSTALL_HINT = "pip install -e '.[listen]'"


class ListenError(Exception):
    """Nothing usable was heard. The message is fit to show to the user."""


class ListenUnavailable(ListenError):
    """The speech-to-text extra is not installed."""


class TooLong(ListenError):
    """The recording is longer than the configured maximum."""


class NothingHeard(ListenError):
    """Silence or noise: no words."""


NOT_INSTALLED = (
    "I can't listen to voice messages yet: speech recognition is not installed. "
    f"The owner can add it by running {INSTALL_HINT} in Tandem's folder, then restarting; "
    "until then, please type your question."
)
NO_WORDS = "I couldn't make out any words in that recording. Could you say it again, or type it?"
UNREADABLE = "I couldn't play that recording: it doesn't look like audio I can read."
BUSY = "I'm listening to a lot of recordings right now. Please send it again in a minute."


def too_long(seconds: float, limit: float) -> TooLong:
    return TooLong(
        f"That recording is {_minutes(seconds)} long; I listen to up to {_minutes(limit)}. "
        "Could you ask in a shorter one, or type it?"
    )


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole} s" if whole < 60 else f"{whole // 60} min {whole % 60:02d} s"


class Listener:
    """Turns recordings into text. Cheap to create; the model loads on the first recording."""

    def __init__(
        self,
        model: str,
        *,
        language: str | None = "en",
        max_seconds: float = 120,
        workers: int = 1,
    ) -> None:
        self.model_name = model
        self.language = language
        self.max_seconds = max_seconds
        self._pool = _DaemonPool(workers)
        self._most_waiting = workers * WAITING_PER_WORKER
        self._waiting = 0
        self._model: Any = None
        self._loading = threading.Lock()

    async def transcribe(self, audio: bytes, hints: Sequence[str] = ()) -> str:
        """What `audio` says. Raises ListenError (too long, no words, unreadable, not installed)."""
        if self._waiting >= self._most_waiting:
            raise ListenError(BUSY)
        self._waiting += 1
        try:
            job = functools.partial(self._transcribe, audio, tuple(hints))
            return await asyncio.wrap_future(self._pool.submit(job))
        finally:
            self._waiting -= 1

    def close(self) -> None:
        self._pool.close()

    def _transcribe(self, audio: bytes, hints: tuple[str, ...]) -> str:
        samples = decode(audio, self.max_seconds)
        if not len(samples) or float(abs(samples).max()) < SILENCE_PEAK:
            raise NothingHeard(NO_WORDS)
        segments, _ = self.model().transcribe(
            samples,
            language=self.language,
            beam_size=5,
            initial_prompt=prompt_from(hints),
            condition_on_previous_text=False,
            vad_filter=True,
        )
        words = [
            segment.text.strip()
            for segment in segments
            if not (segment.no_speech_prob > NO_SPEECH and segment.avg_logprob < LOW_LOGPROB)
        ]
        text = " ".join(word for word in words if word)
        if not any(character.isalnum() for character in text):
            raise NothingHeard(NO_WORDS)
        return text

    def model(self) -> Any:
        """The Whisper model, loaded once (fetched first when named rather than a folder)."""
        with self._loading:
            if self._model is None:
                self._model = _load(self.model_name)
            return self._model


class _DaemonPool:
    """`workers` daemon threads, started on first use. Unlike a ThreadPoolExecutor's, they do not
    hold up Tandem's exit while a recording is heard: a stopped durable run hears it again after
    the restart."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._started = False

    def submit(self, job: Callable[[], T]) -> Future[T]:
        if not self._started:
            self._started = True
            for number in range(self._workers):
                name = f"tandem-listen-{number}"
                threading.Thread(target=self._work, name=name, daemon=True).start()
        future: Future[T] = Future()
        self._jobs.put((future, job))
        return future

    def close(self) -> None:
        for _ in range(self._workers if self._started else 0):
            self._jobs.put(None)

    def _work(self) -> None:
        _yield_cpu()
        while (item := self._jobs.get()) is not None:
            future, job = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except BaseException as exc:  # handed to the caller, who sees it raised
                    future.set_exception(exc)


def _yield_cpu() -> None:
    """Lower this thread's priority, and so that of the engine's threads it starts: a text
    answer waiting for a core is served before a recording, which takes seconds anyway."""
    if sys.platform == "linux":  # elsewhere a thread id is not a process id setpriority takes
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LISTEN_NICE)


def _load(model: str) -> Any:
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise ListenUnavailable(NOT_INSTALLED) from None
    # It logs every recording's length at INFO; Tandem's log is for what happened to messages.
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    local = Path(model).expanduser()
    if not local.is_dir():
        log.warning("Loading the speech model %r (fetched on first use, then cached)...", model)
    try:
        loaded = WhisperModel(
            str(local) if local.is_dir() else model,
            device="cpu",
            compute_type="int8",  # about 3x faster than float32 here, as few word errors
        )
    except Exception as exc:  # a name no hub has, no network, a broken folder
        log.error("The speech model %r could not be loaded: %s", model, exc)
        raise ListenError(
            "Sorry, speech recognition is not working right now; please type your question."
        ) from exc
    log.info("Speech model %r is ready", model)
    return loaded


def prompt_from(hints: Sequence[str]) -> str | None:
    """The initial prompt: the hints, comma-separated, as many as fit in PROMPT_CHARS."""
    chosen: list[str] = []
    size = 0
    for hint in dict.fromkeys(hint.strip() for hint in hints if hint.strip()):
        if size + len(hint) + 2 > PROMPT_CHARS:
            break
        chosen.append(hint)
        size += len(hint) + 2
    return f"{', '.join(chosen)}." if chosen else None


def decode(audio: bytes, max_seconds: float) -> np.ndarray:
    """The first audio track as 16 kHz mono float32; TooLong past `max_seconds`, before decoding
    the rest. Raises ListenError for anything that is not readable audio."""
    try:
        import av
        import numpy as np
    except ImportError:
        raise ListenUnavailable(NOT_INSTALLED) from None
    limit = int(max_seconds * SAMPLE_RATE)
    try:
        with av.open(io.BytesIO(audio), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise ListenError(UNREADABLE)
            stream = container.streams.audio[0]
            if container.duration is not None and container.duration / 1e6 > max_seconds + 1:
                raise too_long(container.duration / 1e6, max_seconds)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            chunks: list[np.ndarray] = []
            taken = 0
            for frame in container.decode(stream):
                for converted in resampler.resample(frame):
                    chunk = converted.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    taken += len(chunk)
                if taken > limit + SAMPLE_RATE:  # a second of slack for rounding
                    raise too_long(_measured(container, taken), max_seconds)
            chunks.extend(
                converted.to_ndarray().reshape(-1) for converted in resampler.resample(None)
            )
    except av.error.FFmpegError:
        raise ListenError(UNREADABLE) from None
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def _measured(container: Any, taken: int) -> float:
    """The recording's length for the "too long" message: the container's, else what was read."""
    return container.duration / 1e6 if container.duration else taken / SAMPLE_RATE
