"""The one database every store uses: a private SQLite file in the data folder, or the
PostgreSQL database the journal shares with every worker.

SQLAlchemy Core speaks to both. The tables (defined by each store on `TABLES`) are created when
the database is opened, and the version in `tandem_schema` says which changes it has had. A
transaction begun inside another on the same database joins it: several stores' writes can be
made one (bot/store/__init__.py, `Stores.remember`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, create_engine, event, func, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine, make_url

from bot.store.private import private_database

TABLES = MetaData()
VERSION = Table("tandem_schema", TABLES, Column("version", Integer, nullable=False))


def _asked_table(connection: Connection) -> None:
    """2: each chat's last calendar question (bot/store/memory.py), for follow-up questions."""
    TABLES.tables["asked"].create(connection, checkfirst=True)


def _remembered_table(connection: Connection) -> None:
    """3: the runs whose answers are remembered (bot/store/memory.py), so that a run resumed
    after a crash does not remember its answer twice."""
    TABLES.tables["remembered"].create(connection, checkfirst=True)


# Each change to the tables after the first is one step here, run once, in order, on open.
MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_asked_table, _remembered_table)
SCHEMA_VERSION = 1 + len(MIGRATIONS)
POSTGRES_SCHEMA = "tandem"  # beside DBOS's own "dbos" schema in the journal's database
SQLITE_WAIT_SECONDS = 30  # a second process waits this long for SQLite's write lock


# The transaction this thread (or task) is in, and its engine: one begun inside it joins it.
_open: ContextVar[tuple[Engine, Connection] | None] = ContextVar("tandem_transaction", default=None)


class NewerDatabase(RuntimeError):
    """The database was written by a newer Tandem, whose tables this one does not know."""


@dataclass(frozen=True)
class Database:
    engine: Engine

    @property
    def shared(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self, *serialized_by: str) -> Iterator[Connection]:
        """One transaction; those naming the same key run one after another on every worker.
        Begun inside another on this database, it is part of that one, committed with it."""
        joined = _open.get()
        if joined is not None and joined[0] is self.engine:
            self._serialize(joined[1], serialized_by)
            yield joined[1]
            return
        with self.engine.begin() as connection:
            self._serialize(connection, serialized_by)
            opened = _open.set((self.engine, connection))
            try:
                yield connection
            finally:
                _open.reset(opened)

    def _serialize(self, connection: Connection, keys: tuple[str, ...]) -> None:
        if self.shared:  # SQLite's transactions already take the one write lock
            for key in keys:
                lock = text("SELECT pg_advisory_xact_lock(hashtext(:key))")
                connection.execute(lock, {"key": key})

    def insert(self, table: Table) -> Any:
        """An INSERT that can say what to do on a conflict (both dialects spell it alike)."""
        if not self.shared:
            return sqlite.insert(table)
        # Imported here: PostgreSQL's dialect is a sixth of SQLAlchemy's import, and most
        # set-ups (and every `tandem ask` on SQLite) never use it.
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)

    def close(self) -> None:
        self.engine.dispose()


def open_database(location: Path | str) -> Database:
    """The SQLite file at `location` (kept private), or the PostgreSQL database at that URL;
    its tables created or brought up to date."""
    if isinstance(location, Path):
        engine = _sqlite(location)
    else:
        url = make_url(location)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")  # the driver DBOS uses too
        engine = create_engine(url, pool_pre_ping=True).execution_options(
            schema_translate_map={None: POSTGRES_SCHEMA}
        )
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {POSTGRES_SCHEMA}"))
    database = Database(engine)
    _migrate(database)
    return database


def _sqlite(path: Path) -> Engine:
    private_database(path)  # chats are private: SQLite would make the file 644
    # One connection: every transaction takes SQLite's one write lock (BEGIN IMMEDIATE), so more
    # would only take turns at it, each with its own page cache (up to 2 MB); threads queue
    # for this one in the pool instead.
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": SQLITE_WAIT_SECONDS},
        pool_size=1,
        max_overflow=0,
        pool_timeout=SQLITE_WAIT_SECONDS,
    )

    @event.listens_for(engine, "connect")
    def _connected(connection: sqlite3.Connection, _: object) -> None:
        connection.isolation_level = None  # transactions are begun below, not by the driver
        connection.execute("PRAGMA journal_mode=WAL")
        # Synced at checkpoints rather than at every commit: a killed process still loses nothing.
        connection.execute("PRAGMA synchronous=NORMAL")

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # Take the write lock at the start: a transaction that reads and then writes could
        # otherwise fail at once when another process wrote in between.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _migrate(database: Database) -> None:
    with database.transaction("tandem schema") as connection:
        TABLES.create_all(connection)
        found = connection.execute(select(func.max(VERSION.c.version))).scalar()
        if found is None:  # a new database, or one from before versions were kept
            connection.execute(VERSION.insert().values(version=SCHEMA_VERSION))
            return
        if found > SCHEMA_VERSION:
            raise NewerDatabase(
                f"The database was last used by a newer Tandem (schema {found}; this one knows "
                f"up to {SCHEMA_VERSION}): upgrade Tandem on this machine."
            )
        for migration in MIGRATIONS[found - 1 :]:
            migration(connection)
        connection.execute(VERSION.update().values(version=SCHEMA_VERSION))
