"""9. Several workers: updates answered a second with 1, 2 and 3 workers, as ratios to one.

The real `tandem run`: one receiver (`--role receiver`, polling the fake Bot API) and N workers
(`--role worker`), all on one fresh PostgreSQL database (TANDEM_BENCH_POSTGRES_URL, else
TANDEM_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/test). Each round queues
UPDATES updates from CHATS chats at once (each chat's messages run one after another, chats
spread over the workers) and times them from queueing to the last reply reaching the fake.
The model takes 1 s a call (workflow mode: one call an answer); the calendar is the sample file
and Open-Meteo answers at once. Every process shares this machine's cores, so the ratios say
what a second worker buys on one machine; on separate machines each brings its own cores.
Each worker takes at most `durable.runs_per_worker` (20) runs at once.
Run: .venv/bin/python -m bench.several
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from bench.common import (
    TOKEN,
    BotApi,
    Figure,
    Latency,
    Upstreams,
    figures_table,
    launch_tandem,
    scratch,
    stop,
    upstreams,
    write_config,
)
from tests.fakes import running, scratch_database

LATENCY = Latency(model=1.0)
QUESTION = "Will it rain at my tennis match?"
CHATS, PER_CHAT = 50, 4
UPDATES = CHATS * PER_CHAT
WORKERS = (1, 2, 3)
ROUNDS = 2
SERVER = os.environ.get("TANDEM_BENCH_POSTGRES_URL") or os.environ.get(
    "TANDEM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def answered(api: BotApi, chats: set[int]) -> tuple[int, float]:
    """How many messages went to these chats, and when the last one did (the fake's clock)."""
    sent = [
        record
        for record in api.sent_since(0)
        if record["method"] == "sendMessage" and record["chat_id"] in chats
    ]
    return len(sent), max((record["at"] for record in sent), default=0.0)


def wait_for_answers(api: BotApi, chats: set[int], count: int, logs: list[Path]) -> float:
    deadline = time.monotonic() + 600
    while True:
        found, last = answered(api, chats)
        if found >= count:
            return last
        if time.monotonic() > deadline:
            tails = "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
            raise RuntimeError(f"{count - found} of {count} answers missing:\n{tails}")
        time.sleep(0.2)


def rates(folder: Path, ups: Upstreams, workers: int) -> list[float]:
    """Updates answered a second, each round, with a receiver and `workers` workers."""
    users = range(1, 1 + CHATS * (ROUNDS + 1))
    with (
        running("tests.fakes.telegram_server", "--token", TOKEN) as telegram,
        scratch_database(SERVER) as database,
    ):
        config = write_config(folder, ups, telegram=telegram, users=users)
        api, logs = BotApi(telegram), []
        processes = []
        for role, name in [("receiver", "receiver")] + [
            ("worker", f"w{n}") for n in range(workers)
        ]:
            logs.append(folder / f"tandem-{name}.log")
            arguments = ("--config", str(config), "--role", role, "--worker", name)
            processes.append(
                launch_tandem(folder, ups, logs[-1], *arguments, "--database", database)
            )
        try:
            api.send([(users[0], QUESTION)])  # warm up: every worker up and answering
            wait_for_answers(api, {users[0]}, 1, logs)
            found = []
            for round_number in range(ROUNDS):
                chats = [users[1 + round_number * CHATS + n] for n in range(CHATS)]
                sent_at = api.send([(chat, QUESTION) for _ in range(PER_CHAT) for chat in chats])
                last = wait_for_answers(api, set(chats), UPDATES, logs)
                found.append(UPDATES / (last - sent_at))
            return found
        finally:
            for process in processes:
                stop(process)


def measure() -> tuple[list[Figure], str]:
    measured: dict[int, list[float]] = {}
    with upstreams(LATENCY, real_clock=True) as ups:
        for workers in WORKERS:
            with scratch() as folder:
                measured[workers] = rates(folder, ups, workers)
    one = statistics.median(measured[1])
    figures = [
        Figure(f"9. updates answered, {n} worker(s)", measured[n], "/s") for n in WORKERS
    ] + [
        Figure(f"9. {n} workers ÷ one worker", [rate / one for rate in measured[n]], "×")
        for n in WORKERS[1:]
    ]
    detail = (
        f"  {UPDATES} updates from {CHATS} chats a round, model {LATENCY.model:g} s a call, "
        f"{ROUNDS} rounds; {os.cpu_count()} cores shared by the receiver and every worker"
    )
    return figures, detail


def main() -> None:
    figures, detail = measure()
    print(figures_table(figures))
    print(detail)


if __name__ == "__main__":
    main()
