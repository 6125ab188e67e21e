"""The terminal front end: the same core as Telegram, one line in, one reply out."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from bot.config import LoadedConfig
from bot.core import Assistant
from bot.messages import Incoming, Reply
from bot.schedule import SlotLedger

TERMINAL_CHAT_ID = 0
PROMPT = "you › "


async def chat_in_terminal(assistant: Assistant, config: LoadedConfig) -> None:
    print(f"Tandem — calendar assistant ({config.path}). Type /help for ideas, /quit to leave.")

    voice_dir = config.data_dir / "voice"

    async def show(reply: Reply) -> None:
        print(f"\ntandem (scheduled) › {shown(reply, voice_dir)}\n{PROMPT}", end="", flush=True)

    ledger = SlotLedger(config.data_dir / "tandem.sqlite3")
    scheduler = assistant.scheduler(ledger, assistant.answer_into(TERMINAL_CHAT_ID, show))
    scheduled = asyncio.create_task(scheduler.run_forever())
    try:
        await _converse(assistant, voice_dir)
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


async def _converse(assistant: Assistant, voice_dir: Path) -> None:
    while True:
        try:
            line = await asyncio.to_thread(input, PROMPT)
        except (EOFError, KeyboardInterrupt):
            print()
            return
        text = line.strip()
        if text in ("/quit", "/exit"):
            return
        if not text:
            continue
        if text in ("/help", "/start"):
            reply = assistant.help_text()
        else:
            message = Incoming(TERMINAL_CHAT_ID, TERMINAL_CHAT_ID, text)
            reply = shown(await assistant.handle(message), voice_dir)
        print(f"tandem › {reply}\n")
