"""Durable runs: every Telegram update becomes a DBOS workflow before Telegram hears it arrived.

Polling: Tandem fetches updates itself and stores a workflow for each before asking for the
next batch, which is what confirms them to Telegram. Webhook: the update is stored before the
2xx answer that stops Telegram resending it; if storing fails the answer is 503 and Telegram
sends it again. Storing, polling and setting the webhook are retried until they work, each
failure logged (bot/receiving.py): the loop never stops listening.

A run's id is the bot's id, the update's id and a digest of the message it carries: an update
seen twice — resent by Telegram, or delivered to two workers — runs once, while a reused
update id (a new bot or Bot API server on the same data folder; Telegram picks ids at random
after a week without updates) carrying another message is a new run. Runs wait in a DBOS
queue partitioned by chat, one run at a time per chat: each chat is answered in the order it
wrote, different chats at once, on one worker or on several sharing PostgreSQL. A worker that
receives and answers on its own journal (SQLite) starts each run at once instead, keeping each
chat's order itself (bot/telegram/turns.py): the queue's polling and extra journal writes were
about half of what the journal cost a message. After a crash DBOS resumes each unfinished run
after its last finished step (every model call and message sent is a journaled step; what the
run read — its chat, a tool's lookup — and the chat remembered, done once per run, are journaled
with the step after it, see bot/telegram/dbos_journal.py). Scheduled slots are workflows too.

The journal is a SQLite file in the data folder, or PostgreSQL for several workers. With
several, each may be a receiver (stores updates as runs), a worker (runs them) or both (`all`);
workers beat in the shared store, and the runs of one silent for `durable.takeover_seconds` are
taken over by the others.
"""

from __future__ import annotations

import asyncio
import faulthandler
import functools
import hashlib
import json
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dbos import (
    DBOS,
    DBOSConfig,
    Queue,
    SetEnqueueOptions,
    SetWorkflowID,
    WorkflowHandleAsync,
)
from telegram import Bot, Update
from telegram.ext import Application

from bot.config import LoadedConfig, Rule
from bot.core import Assistant
from bot.schedule import Scheduler
from bot.startup import connect
from bot.store.private import private_database, private_folder
from bot.store.workers import Heartbeats
from bot.telegram.arrivals import Arrivals
from bot.telegram.dbos_journal import DbosJournal  # noqa: F401  (`tandem run`'s journal)
from bot.telegram.handlers import build_application, publish_commands
from bot.telegram.outbox import Outbox
from bot.telegram.receiving import (
    POLL_SECONDS,
    STATUS_EVERY_SECONDS,
    Backoff,
    Health,
    retrying,
    write_status,
)
from bot.telegram.turns import ChatTurns
from bot.telegram.updates import fetch_updates, read_update

log = logging.getLogger(__name__)

# DBOS runs each journal read and write in a thread of its own pool, unbounded unless capped.
# A blocking step runs there too, with its checkpoints: one thread for each run taken on at
# once (`durable.runs_per_worker`), and these for the journal's other reads and writes.
JOURNAL_THREADS = 8
CHAT_QUEUE = "telegram-chats"
# How often the queue looks for runs to start: the most a message waits before its run starts,
# against a few small queries a second on an idle bot.
QUEUE_POLL_SECONDS = 0.1
# A worker running every chat itself polls the queue only for runs stored on it before.
LEFTOVER_POLL_SECONDS = 10.0
WAITING = ["ENQUEUED", "PENDING"]
RUN_PREFIX = "telegram-"
# A worker beats this many times within the takeover time: a beat or two lost to a busy
# machine does not make it look dead.
BEATS_PER_TAKEOVER = 6
# Stopping takes at most the grace for running answers and this long for the rest.
STOP_SECONDS = 20.0
PATIENT = Backoff()  # 1 s doubling to a minute  # a run stored and not started yet, or not finished


@dataclass
class Running:
    assistant: Assistant
    application: Application
    outbox: Outbox
    chat_id: int | None
    turns: ChatTurns | None = None  # when this worker keeps each chat's order itself


# DBOS finds a workflow to resume by its function's name, so workflows reach the bot through here.
_running: Running | None = None


def _now_running() -> Running:
    if _running is None:
        raise RuntimeError("a durable run started before Tandem was serving")
    return _running


@DBOS.workflow()
async def answer_update(update: dict[str, Any]) -> None:
    """One Telegram update, answered through the bot's handlers."""
    running = _now_running()
    application = running.application
    if running.turns is None:  # the per-chat queue keeps the order
        await application.process_update(read_update(update, application.bot))
        return
    async with running.turns.turn(chat_of(update), DBOS.workflow_id or ""):
        await application.process_update(read_update(update, application.bot))


@DBOS.workflow()
async def send_scheduled(rule_name: str, chat_id: int) -> None:
    """One slot of a scheduled rule, answered and sent to the owner's chat."""
    running = _now_running()
    rule = next(rule for rule in running.assistant.settings.rules if rule.name == rule_name)
    reply = await running.assistant.run_scheduled(rule, chat_id)
    await running.outbox.deliver(chat_id, reply, running.assistant.add_voice)


def run_id(bot_id: int, update: dict[str, Any]) -> str:
    """The update's run: the same for the same update however often it comes, another for a
    reused update id carrying another message. The update id is zero-padded so that runs of a
    chat stored in the same millisecond are still taken in order."""
    identity = json.dumps(_message_identity(update), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return f"{RUN_PREFIX}{bot_id}-{int(update['update_id']):020d}-{digest}"


def _message_identity(update: dict[str, Any]) -> Any:
    """What tells one message from another: its kind, chat, id and date."""
    for kind, value in update.items():
        if isinstance(value, dict) and "message_id" in value:
            chat = value.get("chat") or {}
            return [kind, chat.get("id"), value["message_id"], value.get("date")]
    return {kind: value for kind, value in update.items() if kind != "update_id"}


def chat_of(update: dict[str, Any]) -> str:
    """The queue partition of an update: its chat (updates without one share a partition)."""
    for value in update.values():
        if isinstance(value, dict) and isinstance(value.get("chat"), dict):
            return str(value["chat"].get("id"))
    return "no-chat"


@dataclass
class Inbox:
    """Stores updates as runs: on the per-chat queue, or started at once in their chat's turn."""

    bot_id: int
    queue: Queue
    health: Health
    arrivals: Arrivals = field(default_factory=Arrivals)
    turns: ChatTurns | None = None

    async def accept(self, update: dict[str, Any]) -> None:
        """Store one update as a run (once, whoever receives it) and see that it starts."""
        self.arrivals.note(update)
        run, chat, turns = run_id(self.bot_id, update), chat_of(update), self.turns
        if turns is None:
            with SetWorkflowID(run), SetEnqueueOptions(queue_partition_key=chat):
                await self.queue.enqueue_async(answer_update, update)
            return
        with SetWorkflowID(run):
            handle = await DBOS.start_workflow_async(answer_update, update)
        task = _task_here(handle)
        if task is not None:  # not an update seen before, whose run exists already
            turns.announce(chat, run)
            # However the run ends, even before its turn came, the chat's next run goes on.
            task.add_done_callback(lambda _: turns.finished(chat, run))

    async def store(self, updates: list[dict[str, Any]]) -> None:
        """Store a batch: each chat's updates one after another, in order; chats at once, so
        the hundredth chat does not wait for the first ninety-nine. Raises once all are tried
        if any failed (the batch is then stored again: a run already stored is kept)."""
        by_chat: dict[str, list[dict[str, Any]]] = {}
        for update in updates:
            self.arrivals.note(update)  # all of the burst, before the first run can answer
            by_chat.setdefault(chat_of(update), []).append(update)

        async def one_chat(updates: list[dict[str, Any]]) -> None:
            for update in updates:
                await self.accept(update)

        results = await asyncio.gather(*map(one_chat, by_chat.values()), return_exceptions=True)
        if errors := [result for result in results if isinstance(result, BaseException)]:
            raise errors[0]
        self.health.stored_updates(len(updates))


def _task_here(handle: WorkflowHandleAsync[Any]) -> asyncio.Future[Any] | None:
    """The run's task, if starting it began it in this process. DBOS hands back a handle on
    the running task then, and one that polls the journal when the run already existed."""
    return getattr(handle, "task", None)


async def waiting_runs() -> list[float]:
    """When each update run not finished yet was stored (epoch seconds)."""
    runs = await DBOS.list_workflows_async(
        status=WAITING, workflow_id_prefix=RUN_PREFIX, load_input=False, load_output=False
    )
    return [(run.created_at or 0) / 1000 for run in runs]


async def announce_unfinished(turns: ChatTurns) -> None:
    """Announce the update runs a stop left unfinished, oldest first, then let runs start."""
    runs = await DBOS.list_workflows_async(
        status=WAITING,
        workflow_id_prefix=RUN_PREFIX,
        app_version=DBOS.application_version,  # DBOS resumes no other version's runs
        load_output=False,
    )
    for run in sorted(runs, key=lambda run: (run.created_at or 0, run.workflow_id)):
        arguments = run.input["args"] if run.input else ()
        turns.announce(chat_of(arguments[0] if arguments else {}), run.workflow_id)
    turns.ready()


def database_url(config: LoadedConfig, shared: str | None) -> str:
    """The journal's database: the shared one, or a SQLite file in the data folder."""
    return shared or f"sqlite:///{config.data_dir / 'runs.sqlite3'}"


class _WalConnection(sqlite3.Connection):
    """The journal's SQLite connection: write-ahead log, synced at checkpoints, not per commit.

    A commit is in the log before the step counts as done, so a killed process loses nothing
    (only a power cut may lose the last commits); and readers do not wait for the writer.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA journal_mode=WAL")
        self.execute("PRAGMA synchronous=NORMAL")


def journal_config(url: str, worker: str, runs_at_once: int) -> DBOSConfig:
    config = DBOSConfig(
        name="tandem",
        system_database_url=url,
        executor_id=worker,
        log_level="WARNING",
        max_executor_threads=runs_at_once + JOURNAL_THREADS,
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
    role: str = "all",
) -> None:
    """Serve Tandem on Telegram until SIGINT or SIGTERM, every update a durable run.

    A receiver only stores updates as runs, a worker only runs them, `all` does both."""
    global _running
    settings = config.settings
    durable = settings.durable
    receives, works = role in ("all", "receiver"), role in ("all", "worker")
    arrivals = Arrivals()
    application = build_application(
        assistant, settings.telegram, token, journal=assistant.journal, arrivals=arrivals
    )
    await connect(application, settings.telegram.base_url)
    if receives:
        await publish_commands(application.bot)
    owner = settings.scheduler.chat_id or next(iter(settings.telegram.allowed_user_ids), None)
    url = database_url(config, database)
    # Alone on its own journal, this worker runs every chat: it keeps their order itself.
    turns = ChatTurns(durable.runs_per_worker) if role == "all" and database is None else None
    outbox = Outbox(application.bot, assistant.journal)
    _running = Running(assistant, application, outbox, owner, turns)
    if url.startswith("sqlite:///"):
        private_database(Path(url.removeprefix("sqlite:///")))  # the journal holds messages
    DBOS(config=journal_config(url, worker, durable.runs_per_worker))
    if works:
        # Alive before any run starts here, so that none is left unowned if this worker dies.
        await asyncio.to_thread(assistant.stores.heartbeats.beat, worker, time.time())
    else:
        DBOS.listen_queues([])  # a receiver takes no runs: the workers do
    DBOS.launch()  # resumes this worker's runs that a crash left unfinished
    private_folder(config.data_dir)
    # One run at a time per chat, across every worker sharing the journal.
    queue = await DBOS.register_queue_async(
        CHAT_QUEUE,
        partition_concurrency=1,
        worker_concurrency=durable.runs_per_worker,
        polling_interval_sec=QUEUE_POLL_SECONDS if turns is None else LEFTOVER_POLL_SECONDS,
        on_conflict="always_update",
    )
    if turns is not None:
        await announce_unfinished(turns)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tasks = []
    stop_beating = threading.Event()
    if works:
        tasks.append(asyncio.create_task(_schedule(config, assistant, owner)))
        beating = (assistant.stores.heartbeats, worker, durable.takeover_seconds, stop_beating)
        threading.Thread(target=keep_alive, args=beating, name="tandem-beat", daemon=True).start()
    if receives:
        health = Health(worker, "polling" if webhook is None else "webhook")
        inbox = Inbox(application.bot.id, queue, health, arrivals, turns)
        tasks.append(asyncio.create_task(_keep_status(config.data_dir, health)))
        if webhook is None:
            tasks.append(asyncio.create_task(poll(application.bot, inbox.store, health)))
        else:
            from bot.telegram.webhook import listen  # aiohttp (9 MB) only for a webhook

            tasks.append(asyncio.create_task(listen(application.bot, inbox, webhook)))
    if works and (llm := assistant.engine.llm) is not None:
        # Claude's SDK loads while Tandem already listens, not before.
        threading.Thread(target=llm.warm_up, name="tandem-warm-up", daemon=True).start()
    if not receives:
        how = "answering the messages that receivers store"
    elif webhook is None:
        how = "polling Telegram for messages"
    else:
        how = f"taking Telegram's webhook at {webhook.url} for messages"
    log.info("Tandem is %s (worker %s, role %s)", how, worker, role)
    await stop.wait()
    log.info("Stopping: unfinished answers resume at the next start")
    grace = durable.shutdown_grace_seconds
    _exit_if_stuck(grace + STOP_SECONDS)
    stop_beating.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.to_thread(DBOS.destroy, workflow_completion_timeout_sec=int(grace))
    await application.shutdown()


def _exit_if_stuck(seconds: float) -> None:
    """Exit anyway if stopping takes longer than `seconds`: a step blocked in a thread (a
    database or service that stopped answering) would otherwise keep the process alive until
    the service manager kills it. Nothing is lost: unfinished runs resume at the next start."""

    def exit_now() -> None:
        log.warning("Still stopping after %.0f s: exiting now; where each thread was:", seconds)
        faulthandler.dump_traceback(all_threads=True)
        logging.shutdown()
        os._exit(0)

    timer = threading.Timer(seconds, exit_now)
    timer.daemon = True
    timer.start()


def keep_alive(
    heartbeats: Heartbeats, worker: str, takeover_seconds: float, stop: threading.Event
) -> None:
    """Beat in the shared store, and take over the unfinished runs of any worker silent for
    `takeover_seconds`: they go back on their queue, each to resume after its last journaled
    step on whichever live worker takes it. Several workers taking over at once is harmless:
    DBOS hands a run back only while the silent worker still owns it.

    A thread of its own, not a task: a worker busy with many runs has its event loop and
    thread pools queued up, and a beat waiting behind them made live workers look dead — the
    others then ran their runs a second time alongside them (messages sent twice)."""
    while not stop.is_set():
        now = time.time()
        try:
            heartbeats.beat(worker, now)
            for gone in set(heartbeats.silent(now - takeover_seconds)) - {worker}:
                # DBOS's own start-up recovery, pointed at another executor's workflows.
                taken = DBOS._recover_pending_workflows([gone])
                log.warning(
                    "Worker %s has been silent for %.0f s: took over its %d unfinished run(s)",
                    gone,
                    takeover_seconds,
                    len(taken),
                )
                heartbeats.forget(gone, now - takeover_seconds)
        except Exception as exc:  # the database is away: beat again next time
            log.error("Could not beat or take over (%s: %s)", type(exc).__name__, exc)
        stop.wait(takeover_seconds / BEATS_PER_TAKEOVER)


async def poll(
    bot: Bot,
    store: Callable[[list[dict[str, Any]]], Awaitable[None]],
    health: Health,
    backoff: Backoff = PATIENT,
) -> None:
    """Fetch updates and store them, for ever: a batch is confirmed to Telegram (by asking
    for the next one) only once stored, and whatever fails is logged and tried again."""
    # Telegram refuses getUpdates while a webhook is set.
    await retrying("delete the webhook", bot.delete_webhook, health, backoff)
    health.listening = True
    offset: int | None = None
    while True:
        health.polled()  # a long poll under way is listening too
        updates = await retrying(
            "fetch updates from Telegram",
            functools.partial(fetch_updates, bot, offset, POLL_SECONDS, [Update.MESSAGE]),
            health,
            backoff,
        )
        health.polled()
        if not updates:
            continue
        await retrying("store updates", lambda: store(updates), health, backoff)  # noqa: B023
        offset = updates[-1]["update_id"] + 1  # asking from here confirms what came before


async def _keep_status(folder: Path, health: Health) -> None:
    """Write the health for `tandem status` now and then (a few hundred bytes)."""
    while True:
        await asyncio.to_thread(write_status, folder, health)
        await asyncio.sleep(STATUS_EVERY_SECONDS)


async def _schedule(config: LoadedConfig, assistant: Assistant, owner: int | None) -> None:
    if owner is None:
        if any(rule.schedule for rule in config.settings.rules):
            log.warning("Scheduled rules are off: set scheduler.chat_id or allowed_user_ids")
        return

    async def fire(rule: Rule, slot: datetime) -> None:
        with SetWorkflowID(f"slot-{rule.name}-{slot:%Y%m%dT%H%M%SZ}"):
            await DBOS.start_workflow_async(send_scheduled, rule.name, owner)

    slots, clock = assistant.stores.slots, assistant.context.clock
    await Scheduler.for_settings(config.settings, slots, fire, clock).run_forever()
