"""The group commit in a process of its own.

In one interpreter the HTTP loop (parse, authenticate, answer) and the writer (store,
react, claim) share one core through the GIL, and every hand-off between them waits for
it: saturated, a ``serve`` process used 0.85 of a core in all. Here the writer
is a child process with an engine of its own on the same store (and the parent's runner
id, so the rows it claims are the parent's to send).

The event loop sends each request's events to the child as they come (what one loop
iteration gathered, in one message); the child stores what has arrived while it was
committing in one transaction (group commit, on its side of the socket, so it never
waits for the parent to come round), up to half the requests in flight so that the
parent has the other half to answer and read meanwhile, and answers with each request's
action count and the rows it claimed, which go to the parent's sender. A request is
answered only after its events are committed. When a shared transaction fails, the child
stores each request's events alone, so one bad request fails by itself.

The child runs every reaction of its serve process, so the in-memory windows (flood, the
auto-reply's cool-down) see all of its events. It ignores SIGINT and SIGTERM (a terminal's
Ctrl-C reaches the whole process group): it ends when the parent closes the socket, after
committing what it holds, or when the parent dies.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

from ..i18n import _
from .types import Event

log = logging.getLogger("sopctl.events")
READY = "ready"
MAX_BATCH = 512  # events per transaction
MIN_BATCH = 8
SOCKET_BUFFER = 4 << 20


class CommitFailed(RuntimeError):
    """The child could not commit a batch, and its error could not be carried over as is."""


class CommitProcess:
    """Parent side of the socket pair: start the child, send, receive, close."""

    def __init__(self, engine: Any, *, start_timeout: float = 60.0, halve: bool = True
                 ) -> None:
        """``halve=False``: each transaction takes all that has arrived (see :func:`_take`;
        for comparison in the benchmark)."""
        # a fresh interpreter (no fork: the parent holds threads and sockets), started
        # directly rather than through multiprocessing, which would add a helper process
        ours, theirs = socket.socketpair()
        for sock in (ours, theirs):  # room for every request in flight: a send never waits
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"from sopctl.events.committer import child_main; "
             f"child_main({theirs.fileno()})"],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env)
        theirs.close()
        self._conn = Connection(ours.detach())
        spec = {"playbook": engine.pb, "url": engine.ledger.url, "name": engine.name,
                "runner_id": engine.ledger.runner_id, "can_remove": engine.can_remove,
                "lease_s": engine.lease_s, "lang": _current_lang(),
                "log_level": logging.getLogger().level, "tz": engine.pb.timezone,
                "halve": halve}
        got: Any = None
        try:
            self._conn.send(spec)
            if self._conn.poll(start_timeout):
                got = self._conn.recv()
        except (EOFError, OSError):
            pass
        if got != READY:
            self.close(timeout=5)
            raise CommitFailed(_("the commit process did not start: {why}").format(
                why=got[1] if isinstance(got, tuple) else _("it exited")))

    @property
    def pid(self) -> int:
        return self.process.pid

    def fileno(self) -> int:
        """Readable when the child has answered (or is gone)."""
        return self._conn.fileno()

    def send(self, jobs: list[tuple[int, list[Event]]], in_flight: int) -> None:
        """(tag, events) per request, and how many requests await an answer in all."""
        try:
            self._conn.send((jobs, in_flight))
        except (OSError, ValueError) as exc:
            raise self._gone(exc) from None

    def receive(self) -> tuple[list[tuple[int, Any]], list[Any], float]:
        """(tag, action count per event or the exception) per request, the claimed rows,
        and the seconds the transaction took."""
        try:
            return self._conn.recv()
        except (EOFError, OSError, ValueError) as exc:
            raise self._gone(exc) from None

    def _gone(self, exc: BaseException) -> CommitFailed:
        return CommitFailed(_("the commit process is gone ({why})").format(
            why=str(exc) or _("it exited")))

    def close(self, timeout: float = 30.0) -> int | None:
        """Close the socket: the child commits what it holds and ends. Its exit code."""
        with contextlib.suppress(OSError):
            self._conn.close()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)


class ProcessWriter:
    """The receiver's writer (``submit_async``, ``stop``) on a :class:`CommitProcess`,
    driven from the event loop itself: no thread in between."""

    def __init__(self, engine: Any, *, metrics: Any = None, halve: bool = True) -> None:
        self.engine = engine
        self.metrics = metrics
        self.halve = halve
        self.proc: CommitProcess | None = CommitProcess(engine, halve=halve)
        self._waiting: dict[int, asyncio.Future[list[int]]] = {}
        self._outgoing: list[tuple[int, list[Event]]] = []
        self._tags = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit_async(self, events: list[Event]) -> list[int]:
        """The number of actions each event caused, once all are committed."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._detach()
            self._loop = loop
            if self.proc is not None:
                loop.add_reader(self.proc.fileno(), self._answered)
        tag = next(self._tags)
        fut: asyncio.Future[list[int]] = loop.create_future()
        self._waiting[tag] = fut
        if not self._outgoing:  # the first of this loop iteration: send them all after it
            loop.call_soon(self._flush)
        self._outgoing.append((tag, events))
        try:
            return await fut
        finally:
            self._waiting.pop(tag, None)

    def _detach(self) -> None:
        if self._loop is not None and not self._loop.is_closed() and self.proc is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.proc.fileno())

    def _start(self) -> CommitProcess:
        """A new child (blocks the loop while it starts: only after one died)."""
        self.proc = CommitProcess(self.engine, halve=self.halve)
        if self._loop is not None:
            self._loop.add_reader(self.proc.fileno(), self._answered)
        return self.proc

    def _flush(self) -> None:
        jobs, self._outgoing = self._outgoing, []
        jobs = [(t, evs) for t, evs in jobs if t in self._waiting]  # a client gone: dropped
        if not jobs:
            return
        try:
            (self.proc or self._start()).send(jobs, len(self._waiting))
        except CommitFailed as exc:
            for tag, _evs in jobs:  # none of these reached a child: answered 500, retried
                fut = self._waiting.get(tag)
                if fut is not None and not fut.done():
                    fut.set_exception(exc)
            if self.proc is not None:
                self._replace(exc)

    def _answered(self) -> None:
        assert self.proc is not None
        try:
            results, recorded, seconds = self.proc.receive()
        except CommitFailed as exc:
            self._replace(exc)
            return
        if self.metrics is not None:
            self.metrics.claim_latency(seconds)
        self.engine.notify(recorded)
        for tag, res in results:
            fut = self._waiting.get(tag)
            if fut is None or fut.done():  # the client went away; its events are stored
                continue
            if isinstance(res, BaseException):
                fut.set_exception(res)
            else:
                fut.set_result(res)

    def _replace(self, exc: BaseException) -> None:
        """The child is gone: fail the requests it held (unanswered, so the platform
        retries; a redelivery of what it did commit is a no-op) and start another."""
        log.error(_("{why}; starting another commit process").format(why=exc))
        self._detach()
        if self.proc is not None:
            self.proc.close(timeout=1)
            self.proc = None
        queued = {t for t, _evs in self._outgoing}
        for tag, fut in list(self._waiting.items()):
            if tag not in queued and not fut.done():
                fut.set_exception(exc)
        try:
            self._start()
        except CommitFailed as again:  # the next request tries again
            log.error(str(again))

    def stop(self, timeout: float = 30) -> None:
        """After the server stopped (nothing in flight): the child commits and ends."""
        self._detach()
        if self.proc is not None:
            self.proc.close(timeout)


def _current_lang() -> str:
    from ..i18n import current

    return current()


def _carried(exc: BaseException) -> BaseException:
    """``exc`` if it survives the socket (a pickle round trip), else its words."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return CommitFailed(f"{type(exc).__name__}: {exc}")


def child_main(fd: int) -> None:
    """The commit process: ``fd`` is its end of the socket pair."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = Connection(fd)
    try:
        spec = conn.recv()
    except (EOFError, OSError):
        return
    from ..i18n import setup
    from ..run.metrics import ZoneFormatter

    setup(spec["lang"])
    handler = logging.StreamHandler()
    handler.setFormatter(ZoneFormatter(spec["tz"]))
    logging.basicConfig(level=spec["log_level"], handlers=[handler])
    try:
        from ..run.ledger import Ledger
        from .engine import EventEngine

        ledger = Ledger(spec["url"], runner_id=spec["runner_id"], create=False)
        engine = EventEngine(spec["playbook"], ledger, name=spec["name"],
                             can_remove=spec["can_remove"], lease_s=spec["lease_s"],
                             hold_connection=True)
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(READY)
    queue: collections.deque[tuple[int, list[Event]]] = collections.deque()
    halve = spec.get("halve", True)
    in_flight = 0
    open_ = True
    while open_ or queue:
        try:
            while open_ and (not queue or conn.poll(0)):  # wait only with nothing to do
                jobs, in_flight = conn.recv()
                queue.extend(jobs)
        except (EOFError, OSError):
            open_ = False  # a stop (or the parent died): commit what was handed in, end
        if not queue:
            break
        # without halving, as if twice MAX_BATCH were in flight: all that arrived
        batch = _take(queue, in_flight if halve else 2 * MAX_BATCH)
        t0 = time.perf_counter()
        reply = (*_commit(engine, batch), time.perf_counter() - t0)
        if open_:
            try:
                conn.send(reply)
            except OSError:
                open_ = False
    engine.close()
    ledger.close()


def _take(queue: collections.deque[tuple[int, list[Event]]], in_flight: int
          ) -> list[tuple[int, list[Event]]]:
    """The next transaction's requests, oldest first, whole: events up to half the
    number of requests in flight (at least MIN_BATCH, at most MAX_BATCH; a larger
    request goes alone). Taking all that has arrived lets every request in flight fall
    into one batch, and the two processes take turns: the parent waits while the batch
    commits, this process while the parent answers it and reads the next requests. With
    half, one half is committed while the other is answered and read."""
    cap = min(MAX_BATCH, max(MIN_BATCH, (in_flight + 1) // 2))
    batch = [queue.popleft()]
    n = len(batch[0][1])
    while queue and n + len(queue[0][1]) <= cap:
        n += len(queue[0][1])
        batch.append(queue.popleft())
    return batch


def _commit(engine: Any, jobs: list[tuple[int, list[Event]]]
            ) -> tuple[list[tuple[int, Any]], list[Any]]:
    """All requests' events in one transaction; when it fails, each request's alone."""
    try:
        out, recorded = engine.commit_batch([ev for _t, evs in jobs for ev in evs])
    except Exception:
        results: list[tuple[int, Any]] = []
        recorded = []
        for tag, evs in jobs:
            try:
                got, mine = engine.commit_batch(evs)
            except Exception as exc:
                results.append((tag, _carried(exc)))
            else:
                results.append((tag, [len(a) for a in got]))
                recorded += mine
        return results, recorded
    results = []
    for tag, evs in jobs:
        mine, out = out[:len(evs)], out[len(evs):]
        results.append((tag, [len(a) for a in mine]))
    return results, recorded
