"""The terminal front end: the same core as Telegram, one line in, one reply out."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from bot.config import LoadedConfig, Rule
from bot.core import Assistant
from bot.messages import Incoming, Reply
from bot.schedule import Scheduler

TERMINAL_CHAT_ID = 0
PROMPT = "you › "
LEAVE = ("/quit", "/exit")


async def chat_in_terminal(assistant: Assistant, config: LoadedConfig) -> None:
    print(f"Tandem — calendar assistant ({config.path}). Type /help for ideas, /quit to leave.")

    voice_dir = config.data_dir / "voice"

    async def fire(rule: Rule, slot: datetime) -> None:
        reply = await assistant.run_scheduled(rule, TERMINAL_CHAT_ID)
        print(f"\ntandem (scheduled) › {shown(reply, voice_dir)}\n{PROMPT}", end="", flush=True)

    slots, clock = assistant.stores.slots, assistant.context.clock
    scheduler = Scheduler.for_settings(assistant.settings, slots, fire, clock)
    scheduled = asyncio.create_task(scheduler.run_forever())
    try:
        await converse(assistant, voice_dir)
    finally:
        scheduled.cancel()


def shown(reply: Reply, voice_dir: Path) -> str:
    """The reply's text, and where its voice note was written, if it has one."""
    if reply.voice is None:
        return reply.text
    voice_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = voice_dir / f"reply-{datetime.now():%Y%m%d-%H%M%S-%f}.ogg"
    path.write_bytes(reply.voice.ogg_opus)
    return f"{reply.text}\n(voice note, {reply.voice.duration:.0f} s: {path})"


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
            reply = await assistant.handle(Incoming(TERMINAL_CHAT_ID, TERMINAL_CHAT_ID, text))
            print(f"tandem › {shown(reply, voice_dir)}\n")
