"""`tandem status`: whether each worker is receiving, and how far behind Tandem is.

It reads what each running worker writes in the data folder (bot/telegram/receiving.py), counts the
runs stored and not finished in the journal, and asks Telegram how many updates wait there.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bot.telegram.receiving import STATUS_STALE_SECONDS, read_statuses


def describe(folder: Path, database: str, token: str | None, base_url: str) -> tuple[bool, str]:
    """(all well, the report to print)."""
    now = time.time()
    workers = read_statuses(folder)
    lines = [_worker_line(worker, now) for worker in workers]
    if not workers:
        lines.append(f"No worker has run with the data folder {folder} (start `tandem run`).")
    healthy = bool(workers) and all(_receiving(worker, now) for worker in workers)
    lines.append(_runs_line(database, now))
    if token:
        lines.append(asyncio.run(_telegram_line(token, base_url)))
    return healthy, "\n".join(lines)


def _receiving(worker: dict[str, Any], now: float) -> bool:
    return bool(worker["receiving"]) and now - worker["written"] < STATUS_STALE_SECONDS


def _ago(moment: float | None, now: float) -> str:
    return "never" if moment is None else f"{max(0.0, now - moment):.0f} s ago"


def _worker_line(worker: dict[str, Any], now: float) -> str:
    name, mode = worker["worker"], worker["mode"]
    if now - worker["written"] >= STATUS_STALE_SECONDS:
        state = (
            f"NOT receiving: no word from it since {_ago(worker['written'], now)} (stopped, "
            "stuck, or its data folder is full: see its log)"
        )
    elif worker["failing"]:
        since = _ago(worker["failing_since"], now)
        errors = "; ".join(f"cannot {what}: {error}" for what, error in worker["failing"].items())
        state = f"NOT receiving since {since} — {errors}"
    else:
        state = "receiving" if worker["receiving"] else "starting"
    poll = f"last poll {_ago(worker['last_poll'], now)}, " if mode == "polling" else ""
    return (
        f"Worker {name} ({mode}): {state}. {poll}last update stored "
        f"{_ago(worker['last_stored'], now)} ({worker['stored']} since it started)."
    )


def _runs_line(database: str, now: float) -> str:
    from dbos import DBOSClient

    from bot.telegram.server import RUN_PREFIX, WAITING

    if database.startswith("sqlite:///") and not Path(database[10:]).exists():
        return "Runs waiting or running: none (no journal yet)."
    client = DBOSClient(system_database_url=database)
    try:
        runs = client.list_workflows(
            status=WAITING, workflow_id_prefix=RUN_PREFIX, load_input=False, load_output=False
        )
    finally:
        client.destroy()
    if not runs:
        return "Runs waiting or running: none."
    oldest = min((run.created_at or 0) / 1000 for run in runs)
    return f"Runs waiting or running: {len(runs)}, the oldest stored {_ago(oldest, now)}."


async def _telegram_line(token: str, base_url: str) -> str:
    from telegram import Bot
    from telegram.error import TelegramError

    try:
        async with Bot(token, base_url=base_url) as bot:
            info = await bot.get_webhook_info()
    except TelegramError as exc:
        return f"Telegram: not asked ({type(exc).__name__})."
    return f"Telegram: {info.pending_update_count} update(s) not yet taken by Tandem."
