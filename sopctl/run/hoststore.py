"""Where ``hostlimit`` keeps the rate-limit state every sopctl process on the host shares.

A store hands out the records of some endpoint keys under an exclusive lock and writes back
what the caller changed. A record is a small dict: ``d`` sorted completion times, ``f``
requests in flight ({lease: [owner, started]}), ``u`` penalty deadline, ``k`` the longest
window seen (how long completions are kept). Keys are hashed: a webhook key may hold a URL
with its token in it, and the store is a file.

- :class:`FileStore`: a directory of 64 files (keys spread by hash), each locked with
  ``flock``; the kernel drops the lock of a process killed while holding it. A file holds
  ``marshal`` data behind its length and CRC-32 (:func:`pack`): a write torn by a kill
  reads as torn and counts as empty, and bytes left after a shorter write are ignored.
- :class:`SqliteStore`: one SQLite file in WAL mode, ``BEGIN IMMEDIATE`` per look.

Both drop what was written before the host last booted: monotonic times restart at boot.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import hashlib
import marshal
import os
import random
import sqlite3
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from .sqlitewal import set_wal

SHARDS = 64
SWEEP = 1 / 16  # the share of writes that also drop the dead records of their file


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def pack(data: Any) -> bytes:
    """``marshal`` (dicts, lists, floats and strings, fast both ways) behind its length and
    CRC-32, so that a torn write reads as torn, whatever is left after it."""
    body = marshal.dumps(data)
    return struct.pack("<II", len(body), zlib.crc32(body)) + body


def unpack(raw: bytes) -> Any:
    """What :func:`pack` wrote; ValueError if ``raw`` is torn or empty."""
    if len(raw) < 8:
        raise ValueError("empty")
    n, crc = struct.unpack_from("<II", raw)
    body = raw[8:8 + n]
    if len(body) != n or zlib.crc32(body) != crc:
        raise ValueError("torn")
    try:
        return marshal.loads(body)
    except (EOFError, TypeError) as exc:
        raise ValueError("unreadable") from exc


def boot_id() -> str:
    """This boot of the host ("" where the kernel does not say)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


MAX_FLIGHT_S = 300.0  # no request is in flight longer (HTTP timeouts are seconds)

_NONCE, _PID = "", 0


def owner() -> str:
    """This process: its pid and a nonce, so that a process restarted under the same pid
    (pid 1 in a container) does not take a dead one's requests for its own."""
    global _PID, _NONCE
    if os.getpid() != _PID:  # forked: a new process
        _PID, _NONCE = os.getpid(), os.urandom(4).hex()
    return f"{_PID}:{_NONCE}"


def _alive(who: str) -> bool:
    pid = int(who.partition(":")[0])
    if pid == os.getpid():
        return who == owner()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _reap(rec: dict[str, Any], now: float) -> None:
    """Requests of dead processes, and any older than MAX_FLIGHT_S, count as completed."""
    flights = rec.get("f")
    if not flights:
        return
    for lid, (who, started) in list(flights.items()):
        if who == owner():
            continue  # our own: alive, and released by their lease
        if started + MAX_FLIGHT_S <= now:
            done = started + MAX_FLIGHT_S
        elif not _alive(who):
            done = now  # it may have reached the platform up to now
        else:
            continue
        del flights[lid]
        bisect.insort(rec.setdefault("d", []), done)


def prune(rec: dict[str, Any], now: float) -> bool:
    """Drop what no window can see any more; False when nothing is left to keep."""
    _reap(rec, now)
    d = rec.get("d")
    if d:
        cut = bisect.bisect_right(d, now - rec.get("k", 0.0))
        if cut:
            del d[:cut]
    return bool(rec.get("d") or rec.get("f") or rec.get("u", 0.0) > now)


class Store(Protocol):
    where: Path  # shown in the log when it cannot be used

    def check(self) -> None:
        """Raise (OSError, sqlite3.Error) if the store cannot be used."""
        ...

    def locked(self, hkeys: list[str], now: float
               ) -> contextlib.AbstractContextManager[dict[str, dict[str, Any]]]:
        """The records of ``hkeys`` (sorted), locked; changes are written back on exit."""
        ...


class FileStore:
    def __init__(self, directory: Path, shards: int = SHARDS) -> None:
        self.dir, self.shards = Path(directory), shards
        self.where = self.dir
        self.boot = boot_id()
        self._fds: dict[int, int] = {}

    def check(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._fd(0)

    def _fd(self, shard: int) -> int:
        fd = self._fds.get(shard)
        if fd is None:
            if not self._fds:
                self.dir.mkdir(parents=True, exist_ok=True)
            fd = self._fds[shard] = os.open(self.dir / f"{shard:02d}.rl",
                                            os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return fd

    def _read(self, fd: int, size: int) -> dict[str, Any]:
        raw = os.pread(fd, size, 0)
        try:
            data = unpack(raw)
        except ValueError:  # torn by a kill in the middle of a long write: start over
            data = None
        if not isinstance(data, dict) or data.get("boot") != self.boot:
            return {"boot": self.boot, "eps": {}}
        return data

    @contextlib.contextmanager
    def locked(self, hkeys: list[str], now: float) -> Iterator[dict[str, dict[str, Any]]]:
        shards = sorted({int(k[:4], 16) % self.shards for k in hkeys})
        fds = [self._fd(s) for s in shards]
        for fd in fds:  # in one order everywhere: no deadlock
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            sizes = [os.fstat(fd).st_size for fd in fds]
            data = {s: self._read(fd, n) for s, fd, n in zip(shards, fds, sizes, strict=True)}
            recs = {k: data[int(k[:4], 16) % self.shards]["eps"].setdefault(k, {})
                    for k in hkeys}
            yield recs
            for s, fd, n in zip(shards, fds, sizes, strict=True):
                eps = data[s]["eps"]
                # the records looked at, and now and then all: endpoints nobody posts to
                # any more (what is stale in a record is dropped when it is looked at)
                look = eps if random.random() < SWEEP else recs
                for k in [k for k in look if k in eps and not prune(eps[k], now)]:
                    del eps[k]
                out = pack(data[s])
                os.pwrite(fd, out, 0)
                if n > 2 * len(out) + 4096:  # what follows the data is never read
                    os.ftruncate(fd, len(out))
        finally:
            for fd in reversed(fds):
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self.path = self.where = Path(path)
        self._db: sqlite3.Connection | None = None

    def check(self) -> None:
        self._conn()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, timeout=60,
                                 check_same_thread=False)
            set_wal(db)  # another process may be opening the new file at this moment
            db.execute("PRAGMA synchronous=OFF")  # lost at a power cut only: a reboot anyway
            db.execute("BEGIN IMMEDIATE")  # tables made by one opener at a time
            try:
                db.execute("CREATE TABLE IF NOT EXISTS ep (k TEXT PRIMARY KEY, rec BLOB NOT "
                           "NULL, expires REAL NOT NULL)")
                db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value "
                           "TEXT NOT NULL)")
                row = db.execute("SELECT value FROM meta WHERE name = 'boot'").fetchone()
                if row is None or row[0] != boot_id():
                    db.execute("DELETE FROM ep")
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('boot', ?)", (boot_id(),))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                db.close()
                raise
            self._db = db
        return self._db

    @contextlib.contextmanager
    def locked(self, hkeys: list[str], now: float) -> Iterator[dict[str, dict[str, Any]]]:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            marks = ",".join("?" * len(hkeys))
            got = dict(db.execute(f"SELECT k, rec FROM ep WHERE k IN ({marks})", hkeys))
            recs = {k: marshal.loads(got[k]) if k in got else {} for k in hkeys}
            yield recs
            for k, r in recs.items():
                if not prune(r, now):
                    if k in got:
                        db.execute("DELETE FROM ep WHERE k = ?", (k,))
                    continue
                # when nothing in it matters any more (a request in flight counts as
                # completed MAX_FLIGHT_S after it started at the latest)
                ends = [st + MAX_FLIGHT_S for _, st in r.get("f", {}).values()]
                ends += r.get("d", [])[-1:]
                expires = max(max(ends, default=0.0) + r.get("k", 0.0), r.get("u", 0.0))
                db.execute("INSERT OR REPLACE INTO ep VALUES (?, ?, ?)",
                           (k, marshal.dumps(r), expires))
            if random.random() < 0.01:  # endpoints nobody posts to any more
                db.execute("DELETE FROM ep WHERE expires < ?", (now,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
