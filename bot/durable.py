"""Durable runs: every Telegram update becomes a DBOS workflow before Telegram hears it arrived.

Polling: Tandem fetches updates itself and starts a workflow for each (its id is the update's
id) before asking for the next batch, which is what confirms them to Telegram. Webhook: the
update is stored as a workflow before the 2xx answer that stops Telegram resending it. After a
crash DBOS resumes each unfinished run after its last finished step (every tool, model call and
message sent is a journaled step, see bot/journal.py), and an update seen twice — resent by
Telegram, or delivered to two workers — runs once. Scheduled slots are workflows too.

The journal is a SQLite file in the data folder, or PostgreSQL for several workers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import signal
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from dbos import DBOS, DBOSConfig, SetWorkflowID, StepOptions
from telegram import Update
from telegram.error import NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from bot.config import LoadedConfig, Rule
from bot.core import Assistant
from bot.journal import run_action
from bot.schedule import SlotLedger
from bot.telegram_app import Outbox, build_application, retry_seconds

log = logging.getLogger(__name__)

POLL_SECONDS = 30  # Telegram's long-poll: an idle bot makes one request per half minute
# DBOS runs each journal read and write in a thread of its own pool, unbounded unless capped.
JOURNAL_THREADS = 8


class DbosJournal:
    """Each step a DBOS step: checkpointed, and replayed instead of redone after a crash."""

    async def step(self, name: str, action: Callable[..., Any], *args: Any) -> Any:
        return await DBOS.run_step_async(StepOptions(name=name), run_action, action, *args)


@dataclass
class Running:
    assistant: Assistant
    application: Application
    outbox: Outbox
    chat_id: int | None


# DBOS finds a workflow to resume by its function's name, so workflows reach the bot through here.
_running: Running | None = None


def _now_running() -> Running:
    if _running is None:
        raise RuntimeError("a durable run started before Tandem was serving")
    return _running


@DBOS.workflow()
async def answer_update(update: dict[str, Any]) -> None:
    """One Telegram update, answered through the bot's handlers."""
    application = _now_running().application
    await application.process_update(Update.de_json(update, application.bot))


@DBOS.workflow()
async def send_scheduled(rule_name: str, chat_id: int) -> None:
    """One slot of a scheduled rule, answered and sent to the owner's chat."""
    running = _now_running()
    rule = next(rule for rule in running.assistant.settings.rules if rule.name == rule_name)
    reply = await running.assistant.run_scheduled(rule, chat_id)
    await running.outbox.deliver(chat_id, reply)


async def accept(update: dict[str, Any]) -> None:
    """Store an update as a run (once per update id, whoever receives it), and let it start."""
    with SetWorkflowID(f"telegram-update-{update['update_id']}"):
        await DBOS.start_workflow_async(answer_update, update)


def database_url(config: LoadedConfig, override: str | None) -> str:
    chosen = override or config.settings.durable.database_url
    return chosen or f"sqlite:///{config.data_dir / 'runs.sqlite3'}"


class _WalConnection(sqlite3.Connection):
    """The journal's SQLite connection: write-ahead log, synced at checkpoints, not per commit.

    A commit is in the log before the step counts as done, so a killed process loses nothing
    (only a power cut may lose the last commits); and readers do not wait for the writer.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA journal_mode=WAL")
        self.execute("PRAGMA synchronous=NORMAL")


def journal_config(url: str, worker: str) -> DBOSConfig:
    config = DBOSConfig(
        name="tandem",
        system_database_url=url,
        executor_id=worker,
        log_level="WARNING",
        max_executor_threads=JOURNAL_THREADS,
    )
    if url.startswith("sqlite"):
        # SQLite takes one writer at a time: more connections only take turns at its lock,
        # each sleeping in SQLite's busy handler; one connection queues them without sleeping.
        config.update(
            sys_db_pool_size=1, db_engine_kwargs={"connect_args": {"factory": _WalConnection}}
        )
    return config


def webhook_secret(token: str) -> str:
    """The same secret on every worker without configuring one: derived from the bot token."""
    return hashlib.sha256(f"tandem-webhook:{token}".encode()).hexdigest()[:48]


@dataclass(frozen=True)
class Webhook:
    url: str  # the public address Telegram posts to
    listen: str
    port: int
    secret: str


async def serve(
    config: LoadedConfig,
    assistant: Assistant,
    token: str,
    worker: str,
    webhook: Webhook | None = None,
    database: str | None = None,
) -> None:
    """Serve Tandem on Telegram until SIGINT or SIGTERM, every update a durable run."""
    global _running
    settings = config.settings
    application = build_application(assistant, settings.telegram, token, journal=assistant.journal)
    await application.initialize()
    owner = settings.scheduler.chat_id or next(iter(settings.telegram.allowed_user_ids), None)
    _running = Running(assistant, application, Outbox(application.bot, assistant.journal), owner)
    DBOS(config=journal_config(database_url(config, database), worker))
    DBOS.launch()  # resumes this worker's runs that a crash left unfinished
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tasks = [asyncio.create_task(_schedule(config, assistant, owner))]
    if webhook is None:
        tasks.append(asyncio.create_task(_poll(application)))
    else:
        tasks.append(asyncio.create_task(_listen(application, webhook)))
    if (llm := assistant.workflow.llm) is not None:
        # Claude's SDK loads while Tandem already listens, not before.
        threading.Thread(target=llm.warm_up, name="tandem-warm-up", daemon=True).start()
    log.info("Tandem is serving on Telegram as worker %s", worker)
    await stop.wait()
    log.info("Stopping: unfinished answers resume at the next start")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    grace = settings.durable.shutdown_grace_seconds
    await asyncio.to_thread(DBOS.destroy, workflow_completion_timeout_sec=int(grace))
    await application.shutdown()


async def _poll(application: Application) -> None:
    bot = application.bot
    await bot.delete_webhook()  # Telegram refuses getUpdates while a webhook is set
    offset: int | None = None
    failures = 0
    while True:
        try:
            updates = await bot.get_updates(
                offset=offset, timeout=POLL_SECONDS, allowed_updates=[Update.MESSAGE]
            )
        except RetryAfter as exc:
            await asyncio.sleep(retry_seconds(exc))
            continue
        except (NetworkError, TelegramError) as exc:
            failures += 1
            wait = min(60.0, 2.0**failures) * random.uniform(0.5, 1.0)
            log.warning("Telegram is not answering (%s); trying again in %.0f s", exc, wait)
            await asyncio.sleep(wait)
            continue
        failures = 0
        # All stored at once, so the hundredth chat does not wait for the first ninety-nine.
        await asyncio.gather(*(accept(update.to_dict()) for update in updates))
        if updates:
            offset = updates[-1].update_id + 1  # asking from here confirms what came before


async def _listen(application: Application, webhook: Webhook) -> None:
    from aiohttp import web

    async def receive(request: web.Request) -> web.Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != webhook.secret:
            return web.Response(status=403)
        try:
            update = await request.json()
            update_id = int(update["update_id"])
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400)
        await accept({**update, "update_id": update_id})
        return web.Response(status=200)

    server = web.Application()
    # Behind a proxy the path is the one in the public address: /telegram in ".../telegram".
    server.router.add_post(urlsplit(webhook.url).path or "/", receive)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, webhook.listen, webhook.port).start()
    await application.bot.set_webhook(
        webhook.url, secret_token=webhook.secret, allowed_updates=[Update.MESSAGE]
    )
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def _schedule(config: LoadedConfig, assistant: Assistant, owner: int | None) -> None:
    if owner is None:
        if any(rule.schedule for rule in config.settings.rules):
            log.warning("Scheduled rules are off: set scheduler.chat_id or allowed_user_ids")
        return

    async def fire(rule: Rule, slot: datetime) -> None:
        with SetWorkflowID(f"slot-{rule.name}-{slot:%Y%m%dT%H%M%SZ}"):
            await DBOS.start_workflow_async(send_scheduled, rule.name, owner)

    ledger = SlotLedger(config.data_dir / "tandem.sqlite3")
    await assistant.scheduler(ledger, fire).run_forever()
