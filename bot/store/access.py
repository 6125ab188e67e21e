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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.store.db import open_private_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS paired_users (
    user_id INTEGER PRIMARY KEY,
    paired REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pairing_codes (
    code_hash TEXT PRIMARY KEY,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pairing_failures (
    user_id INTEGER NOT NULL,
    at REAL NOT NULL
);
"""

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud without doubt
CODE_LENGTH = 8  # 32^8: about a trillion codes
CODE_MINUTES = 10
FAILURES_PER_PERSON = 5  # per hour
# Wrong tries, by anyone, while one code is live; beyond that the code itself was guessed at
# and is withdrawn (the chance that one of 100 tries hit it is 100 in 32^8, about 1e-10).
FAILURES_PER_CODE = 100
REFUSAL_EVERY_SECONDS = 600  # a stranger is told their id (or a wrong code) at most this often
TOLD_KEPT = 10_000  # strangers remembered as told; older ones are forgotten first
WRONG_CODE = "That code is wrong or has expired. Ask the owner for a new one."


@dataclass(frozen=True)
class Pairing:
    paired: bool
    message: str | None  # None: say nothing (a wrong try answered a moment ago)


class Access:
    def __init__(
        self, settings: Settings, path: Path, clock: Callable[[], float] = time.time
    ) -> None:
        people = [person.telegram_id for person in settings.people]
        self.allowed_ids = frozenset([*settings.telegram.allowed_user_ids, *people])
        self.allowed_groups = frozenset(settings.telegram.allowed_group_ids)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = open_private_db(path, SCHEMA)
        self._told: dict[tuple[str, int], float] = {}

    def allows(self, user_id: int) -> bool:
        if user_id in self.allowed_ids:
            return True
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM paired_users WHERE user_id = ?", (user_id,)
            ).fetchone()
        return row is not None

    def paired_only(self, user_id: int) -> bool:
        """Let in by a pairing code rather than named in the config."""
        return user_id not in self.allowed_ids and self.allows(user_id)

    def allows_group(self, chat_id: int) -> bool:
        return chat_id in self.allowed_groups

    def should_tell(self, user_id: int, about: str = "refusal") -> bool:
        """Whether a stranger gets told `about` something now (else they are ignored)."""
        now = self._clock()
        with self._lock:
            last = self._told.get((about, user_id))
            if last is not None and now - last < REFUSAL_EVERY_SECONDS:
                return False
            if len(self._told) >= TOLD_KEPT:  # a crowd of strangers: forget the oldest half
                for key in sorted(self._told, key=self._told.__getitem__)[: TOLD_KEPT // 2]:
                    del self._told[key]
            self._told[(about, user_id)] = now
            return True

    def new_code(self) -> str:
        """A one-time pairing code, valid for ten minutes."""
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        now = self._clock()
        with self._lock:
            self._db.execute("DELETE FROM pairing_codes WHERE expires < ?", (now,))
            self._db.execute(
                "INSERT INTO pairing_codes (code_hash, expires) VALUES (?, ?)",
                (_hashed(code), now + CODE_MINUTES * 60),
            )
        return code

    def pair(self, user_id: int, code: str) -> Pairing:
        """Add `user_id` if `code` is a live pairing code; each code works once."""
        if self.allows(user_id):
            return Pairing(True, "You can already use Tandem.")
        now = self._clock()
        with self._lock:
            self._db.execute("DELETE FROM pairing_failures WHERE at <= ?", (now - 3600,))
            (mine,) = self._db.execute(
                "SELECT COUNT(*) FROM pairing_failures WHERE user_id = ?", (user_id,)
            ).fetchone()
            if mine >= FAILURES_PER_PERSON:
                return Pairing(False, None)  # told when they got here; silent for the hour
            paired = self._use_code(code.strip().upper(), now)
            if not paired:
                self._db.execute(
                    "INSERT INTO pairing_failures (user_id, at) VALUES (?, ?)", (user_id, now)
                )
            else:
                self._db.execute(
                    "INSERT OR IGNORE INTO paired_users (user_id, paired) VALUES (?, ?)",
                    (user_id, now),
                )
        if paired:
            return Pairing(True, "Paired: welcome to Tandem! Send /help to see what I can do.")
        if mine + 1 >= FAILURES_PER_PERSON:
            return Pairing(False, "Too many wrong codes: try again in an hour.")
        return Pairing(False, WRONG_CODE if self.should_tell(user_id, "wrong code") else None)

    def _use_code(self, code: str, now: float) -> bool:
        """Spend `code` if it is live and was not guessed at (call with the lock held)."""
        row = self._db.execute(
            "SELECT expires FROM pairing_codes WHERE code_hash = ? AND expires >= ?",
            (_hashed(code), now),
        ).fetchone()
        if row is None:
            return False
        made = row[0] - CODE_MINUTES * 60
        (tries,) = self._db.execute(
            "SELECT COUNT(*) FROM pairing_failures WHERE at >= ?", (made,)
        ).fetchone()
        self._db.execute("DELETE FROM pairing_codes WHERE code_hash = ?", (_hashed(code),))
        return bool(tries < FAILURES_PER_CODE)


def _hashed(code: str) -> str:
    # Only hashes are stored: a copy of the data folder gives no working code.
    return hashlib.sha256(code.encode()).hexdigest()
