"""Who may use Tandem: the allowlist, people paired with a one-time code, and allowed groups.

Strangers are told their id at most once in a while and cost nothing else. `tandem pair` makes
a code that works once, for ten minutes. Guessing one is hopeless: each person has five wrong
tries an hour, a wrong try is answered at most once in ten minutes, and a code that many wrong
tries were made against while it was live (whoever made them) no longer works. Wrong tries made
before a code existed were not aimed at it: a crowd of guessers cannot lock out a fresh code.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Float, Index, String, Table, delete, func, select
from sqlalchemy.engine import Connection

from bot.config import Settings
from bot.store.db import TABLES, Database

PAIRED_USERS = Table(
    "paired_users",
    TABLES,
    Column("user_id", BigInteger, primary_key=True),
    Column("paired", Float, nullable=False),
)
PAIRING_CODES = Table(
    "pairing_codes",
    TABLES,
    Column("code_hash", String, primary_key=True),
    Column("expires", Float, nullable=False),
)
PAIRING_FAILURES = Table(
    "pairing_failures",
    TABLES,
    Column("user_id", BigInteger, nullable=False),
    Column("at", Float, nullable=False),
)
# When a stranger was last told something (`about`: a refusal, a wrong code).
TOLD = Table(
    "strangers_told",
    TABLES,
    Column("about", String, primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("at", Float, nullable=False),
    Index("strangers_told_by_time", "at"),
)

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud without doubt
CODE_LENGTH = 8  # 32^8: about a trillion codes
CODE_MINUTES = 10
FAILURES_PER_PERSON = 5  # per hour
# Wrong tries, by anyone, while one code is live; beyond that the code itself was guessed at
# and is withdrawn (the chance that one of 100 tries hit it is 100 in 32^8, about 1e-10).
FAILURES_PER_CODE = 100
REFUSAL_EVERY_SECONDS = 600  # a stranger is told their id (or a wrong code) at most this often
WRONG_CODE = "That code is wrong or has expired. Ask the owner for a new one."


@dataclass(frozen=True)
class Pairing:
    paired: bool
    message: str | None  # None: say nothing (a wrong try answered a moment ago)


class Access:
    def __init__(
        self, settings: Settings, database: Database, clock: Callable[[], float] = time.time
    ) -> None:
        people = [person.telegram_id for person in settings.people]
        self.allowed_ids = frozenset([*settings.telegram.allowed_user_ids, *people])
        self.allowed_groups = frozenset(settings.telegram.allowed_group_ids)
        self.database = database
        self._clock = clock

    def allows(self, user_id: int) -> bool:
        if user_id in self.allowed_ids:
            return True
        with self.database.transaction() as db:
            found = db.execute(
                select(PAIRED_USERS.c.user_id).where(PAIRED_USERS.c.user_id == user_id)
            ).first()
        return found is not None

    def paired_only(self, user_id: int) -> bool:
        """Let in by a pairing code rather than named in the config."""
        return user_id not in self.allowed_ids and self.allows(user_id)

    def allows_group(self, chat_id: int) -> bool:
        return chat_id in self.allowed_groups

    def should_tell(self, user_id: int, about: str = "refusal") -> bool:
        """Whether a stranger gets told `about` something now (else they are ignored)."""
        now = self._clock()
        with self.database.transaction(f"told {about} {user_id}") as db:
            # Only the last few minutes matter: a crowd of strangers is forgotten as it goes.
            db.execute(delete(TOLD).where(TOLD.c.at <= now - REFUSAL_EVERY_SECONDS))
            told = db.execute(
                select(TOLD.c.at).where(TOLD.c.about == about, TOLD.c.user_id == user_id)
            ).first()
            if told is not None:
                return False
            db.execute(TOLD.insert().values(about=about, user_id=user_id, at=now))
        return True

    def new_code(self) -> str:
        """A one-time pairing code, valid for ten minutes."""
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        now = self._clock()
        with self.database.transaction() as db:
            db.execute(delete(PAIRING_CODES).where(PAIRING_CODES.c.expires < now))
            db.execute(
                PAIRING_CODES.insert().values(
                    code_hash=_hashed(code), expires=now + CODE_MINUTES * 60
                )
            )
        return code

    def pair(self, user_id: int, code: str) -> Pairing:
        """Add `user_id` if `code` is a live pairing code; each code works once."""
        if self.allows(user_id):
            return Pairing(True, "You can already use Tandem.")
        now = self._clock()
        # One pairing at a time on every worker: a code works once, however many try it at once.
        with self.database.transaction("pairing") as db:
            db.execute(delete(PAIRING_FAILURES).where(PAIRING_FAILURES.c.at <= now - 3600))
            mine = db.execute(
                select(func.count()).where(PAIRING_FAILURES.c.user_id == user_id)
            ).scalar_one()
            if mine >= FAILURES_PER_PERSON:
                return Pairing(False, None)  # told when they got here; silent for the hour
            paired = _use_code(db, code.strip().upper(), now)
            if not paired:
                db.execute(PAIRING_FAILURES.insert().values(user_id=user_id, at=now))
            else:
                added = self.database.insert(PAIRED_USERS).values(user_id=user_id, paired=now)
                db.execute(added.on_conflict_do_nothing())
        if paired:
            return Pairing(True, "Paired: welcome to Tandem! Send /help to see what I can do.")
        if mine + 1 >= FAILURES_PER_PERSON:
            return Pairing(False, "Too many wrong codes: try again in an hour.")
        return Pairing(False, WRONG_CODE if self.should_tell(user_id, "wrong code") else None)


def _use_code(db: Connection, code: str, now: float) -> bool:
    """Spend `code` if it is live and was not guessed at (within the pairing transaction)."""
    this_code = PAIRING_CODES.c.code_hash == _hashed(code)
    expires = db.execute(
        select(PAIRING_CODES.c.expires).where(this_code, PAIRING_CODES.c.expires >= now)
    ).scalar()
    if expires is None:
        return False
    made = expires - CODE_MINUTES * 60
    tries = db.execute(select(func.count()).where(PAIRING_FAILURES.c.at >= made)).scalar_one()
    db.execute(delete(PAIRING_CODES).where(this_code))
    return bool(tries < FAILURES_PER_CODE)


def _hashed(code: str) -> str:
    # Only hashes are stored: a copy of the data folder gives no working code.
    return hashlib.sha256(code.encode()).hexdigest()
