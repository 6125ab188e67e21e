"""How long a voice note takes: a 300-character English reply, median of 7, and its size.

Run with `.venv/bin/python bench/voice.py`. Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from integrations.speech import Speaker

REPLY = (
    "Tomorrow starts with the team stand-up at half past nine, online. After that you are free "
    "until lunch with Priya at one at the Italian place on Fleet Street. At four there is the "
    "quarterly review in room two. In the evening you play tennis with Sam at Regent's Park, "
    "so pack your racket and some water."
)
RUNS = 7


async def main() -> None:
    speaker = Speaker()
    try:
        started = time.perf_counter()
        note = await speaker.speak(REPLY)  # the first call also starts the engine
        cold = time.perf_counter() - started
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            note = await speaker.speak(REPLY)
            times.append(time.perf_counter() - started)
        started = time.perf_counter()
        await asyncio.gather(*(speaker.speak(REPLY) for _ in range(RUNS)))
        together = time.perf_counter() - started
    finally:
        speaker.close()
    size = len(note.ogg_opus)
    median = statistics.median(times)
    print(f"{len(REPLY)} characters of English -> {note.duration:.1f} s of speech ({note.voice})")
    print(f"median of {RUNS}: {median * 1000:.0f} ms per voice note", end=" ")
    print(
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}; first call {cold * 1000:.0f})"
    )
    print(f"size: {size / 1024:.0f} KB ({size * 8 / note.duration / 1000:.0f} kb/s)")
    print(f"{RUNS} at once: {together * 1000:.0f} ms in all")


if __name__ == "__main__":
    asyncio.run(main())
