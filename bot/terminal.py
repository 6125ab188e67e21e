"""The terminal front end: the same core as Telegram, one line in, one reply out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import LoadedConfig, Rule
from bot.core import Assistant
from bot.messages import Incoming, Reply
from bot.schedule import Scheduler

TERMINAL_CHAT_ID = 0
PROMPT = "you › "
LEAVE = ("/quit", "/exit")
HISTORY_LINES = 1000


async def chat_in_terminal(assistant: Assistant, config: LoadedConfig) -> None:
    print(f"Tandem — calendar assistant ({config.path}). Type /help for ideas, /quit to leave.")

    voice_dir = config.data_dir / "voice"

    async def fire(rule: Rule, slot: datetime) -> None:
        reply = await assistant.add_voice(await assistant.run_scheduled(rule, TERMINAL_CHAT_ID))
        said = "\n".join(filter(None, (reply.text, voice_line(reply, voice_dir))))
        print(f"\ntandem (scheduled) › {said}\n{PROMPT}", end="", flush=True)

    slots, clock = assistant.stores.slots, assistant.context.clock
    scheduler = Scheduler.for_settings(assistant.settings, slots, fire, clock)
    scheduled = asyncio.create_task(scheduler.run_forever())
    try:
        with line_editing(config.data_dir / "terminal-history"):
            await converse(assistant, voice_dir)
    finally:
        scheduled.cancel()


@contextlib.contextmanager
def line_editing(history: Path) -> Iterator[None]:
    """Arrow keys, Ctrl-R and the history of earlier chats at the prompt (GNU readline), and
    a paste taken whole, newlines and all, as one message (bracketed paste; the terminal's own
    line limit of 4095 characters does not apply, since readline reads key by key)."""
    import readline  # input() edits lines once this is imported

    readline.parse_and_bind("set enable-bracketed-paste on")
    readline.set_history_length(HISTORY_LINES)
    with contextlib.suppress(OSError):
        readline.read_history_file(history)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            history.touch(mode=0o600)  # what the owner asked is theirs alone
            readline.write_history_file(history)


def owner_says(text: str, **details: Any) -> Incoming:
    """A message from the owner at their own terminal: not held to the per-minute limit."""
    return Incoming(TERMINAL_CHAT_ID, TERMINAL_CHAT_ID, text, paced=False, **details)


def voice_line(reply: Reply, voice_dir: Path) -> str:
    """Where the reply's voice note was written, or why there is none; "" if none was asked."""
    if reply.voice is None:
        return "" if reply.voice_language is None else "(the voice note could not be made)"
    voice_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = voice_dir / f"reply-{datetime.now():%Y%m%d-%H%M%S-%f}.ogg"
    path.write_bytes(reply.voice.ogg_opus)
    return f"(voice note, {reply.voice.duration:.0f} s: {path})"


async def converse(assistant: Assistant, voice_dir: Path) -> None:
    """Read lines until /quit or end of input; every line goes to the core, commands too."""
    while True:
        try:
            line = await asyncio.to_thread(input, PROMPT)
        except (EOFError, KeyboardInterrupt):
            print()
            return
        text = line.strip()
        if text in LEAVE:
            return
        if text:
            reply = await assistant.handle(owner_says(text))
            print(f"tandem › {reply.text}")
            if reply.voice_language is not None:  # the text first: the note takes a while
                print(voice_line(await assistant.add_voice(reply), voice_dir))
            print()
