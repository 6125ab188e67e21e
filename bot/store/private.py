"""The data folder is its owner's alone: the folder 0700, every file in it 0600.

Chats, traces and the run journal (message texts) live there. SQLite creates a database file
with the process umask (usually 0644) and gives its -wal, -shm and -journal files the mode of
the database, so a database is created 0600 before SQLite first opens it; anything found looser
(an older Tandem, a copied folder, a folder made by hand) is tightened, and the log says so.
"""

from __future__ import annotations

import contextlib
import logging
import stat
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_folder(folder: Path) -> None:
    """Create `folder` (0700) if needed, and tighten it and every file in it."""
    folder.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    _tighten(folder, FOLDER_MODE)
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink():
            _tighten(path, FILE_MODE)


def private_database(path: Path) -> None:
    """Make the SQLite file at `path` (and its companions) 0600, creating it empty if absent.

    An empty file is a new database to SQLite, which then keeps the mode it finds.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    _tighten(path.parent, FOLDER_MODE)
    path.touch(mode=FILE_MODE, exist_ok=True)
    _tighten(path, FILE_MODE)
    for companion in (path.with_name(path.name + end) for end in SQLITE_COMPANIONS):
        # Another connection's journal may vanish between a look and a stat: none to tighten.
        with contextlib.suppress(FileNotFoundError):
            _tighten(companion, FILE_MODE)


def _tighten(path: Path, wanted: int) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & ~wanted:
        path.chmod(wanted)
        log.warning("%s was readable by others (mode %o); tightened to %o", path, mode, wanted)
