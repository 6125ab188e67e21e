"""Who may use Tandem: the allowlist, people paired with a one-time code, and allowed groups.

Strangers are told their id at most once in a while and cost nothing else. `tandem pair` makes
a code that works once, for ten minutes; wrong codes are rate-limited per person and overall,
so guessing one is hopeless.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
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
FAILURES_OVERALL = 30  # per hour, whoever tries: a guessing crowd locks pairing for the hour
REFUSAL_EVERY_SECONDS = 600  # a stranger is told their id at most this often


@dataclass(frozen=True)
class Pairing:
    paired: bool
    message: str


class Access:
    def __init__(self, settings: Settings, path: Path) -> None:
        people = [person.telegram_id for person in settings.people]
        self.allowed_ids = frozenset([*settings.telegram.allowed_user_ids, *people])
        self.allowed_groups = frozenset(settings.telegram.allowed_group_ids)
        self._lock = threading.Lock()
        self._db = open_private_db(path, SCHEMA)
        self._refused: dict[int, float] = {}

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

    def should_tell(self, user_id: int) -> bool:
        """Whether a stranger's message gets the refusal now (else it is ignored)."""
        now = time.monotonic()
        with self._lock:
            last = self._refused.get(user_id)
            if last is not None and now - last < REFUSAL_EVERY_SECONDS:
                return False
            self._refused[user_id] = now
            return True

    def new_code(self) -> str:
        """A one-time pairing code, valid for ten minutes."""
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        with self._lock:
            self._db.execute("DELETE FROM pairing_codes WHERE expires < ?", (time.time(),))
            self._db.execute(
                "INSERT INTO pairing_codes (code_hash, expires) VALUES (?, ?)",
                (_hashed(code), time.time() + CODE_MINUTES * 60),
            )
        return code

    def pair(self, user_id: int, code: str) -> Pairing:
        """Add `user_id` if `code` is a live pairing code; each code works once."""
        if self.allows(user_id):
            return Pairing(True, "You can already use Tandem.")
        now = time.time()
        with self._lock:
            hour_ago = now - 3600
            mine, everyone = self._db.execute(
                "SELECT SUM(user_id = ?), COUNT(*) FROM pairing_failures WHERE at > ?",
                (user_id, hour_ago),
            ).fetchone()
            if (mine or 0) >= FAILURES_PER_PERSON or everyone >= FAILURES_OVERALL:
                return Pairing(False, "Too many wrong codes: try again in an hour.")
            used = self._db.execute(
                "DELETE FROM pairing_codes WHERE code_hash = ? AND expires >= ?",
                (_hashed(code.strip().upper()), now),
            ).rowcount
            if not used:
                self._db.execute(
                    "INSERT INTO pairing_failures (user_id, at) VALUES (?, ?)", (user_id, now)
                )
                wrong = "That code is wrong or has expired. Ask the owner for a new one."
                return Pairing(False, wrong)
            self._db.execute(
                "INSERT OR IGNORE INTO paired_users (user_id, paired) VALUES (?, ?)", (user_id, now)
            )
        return Pairing(True, "Paired: welcome to Tandem! Send /help to see what I can do.")


def _hashed(code: str) -> str:
    # Only hashes are stored: a copy of the data folder gives no working code.
    return hashlib.sha256(code.encode()).hexdigest()
