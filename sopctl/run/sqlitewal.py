"""Putting a SQLite file in WAL mode when several processes open it at once."""

from __future__ import annotations

import sqlite3
import time
from typing import Any


def set_wal(cur: Any, patience_s: float = 30.0) -> None:
    """``PRAGMA journal_mode=WAL`` on ``cur`` (a DB-API cursor or connection). The switch
    needs the file to itself and SQLite does not wait for that (no busy handler), so
    processes opening a new file at once retry."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
